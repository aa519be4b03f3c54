/** Managing the key files of an open repository: each wraps the same master key with one password. */
import { KdfParams } from '../crypto/kdf.js';
import { createKeyFile, parseKeyFile, saveKeyFile } from './key-file.js';
import { Repository } from './repository.js';
import { listNames } from '../backends/backend.js';

export interface KeyInfo {
  id: string;
  host: string;
  user: string;
  created: string;
  /** The key file the repository was opened with. */
  current: boolean;
}

export class KeyError extends Error {
  readonly exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = 'KeyError';
  }
}

export async function listKeys(repo: Repository, onError?: (id: string, err: Error) => void): Promise<KeyInfo[]> {
  const ids = await listNames(repo.backend, 'keys');
  const out: KeyInfo[] = [];
  for (const id of ids.sort()) {
    try {
      const kf = parseKeyFile(await repo.backend.load({ type: 'keys', name: id }), `keys/${id}`);
      out.push({ id, host: kf.host, user: kf.user, created: kf.created, current: id === repo.keyName });
    } catch (err) {
      onError?.(id, err as Error);
    }
  }
  return out.sort((a, b) => a.created.localeCompare(b.created) || a.id.localeCompare(b.id));
}

/** Adds a key file for another password; returns its id. */
export async function addKey(repo: Repository, password: string, kdf?: Partial<KdfParams>): Promise<string> {
  return saveKeyFile(repo.backend, await createKeyFile(repo.key, password, kdf));
}

/** A key id or a unique prefix of at least 4 characters. */
export async function resolveKey(repo: Repository, query: string): Promise<string> {
  if (!/^[0-9a-f]{4,64}$/.test(query)) throw new KeyError(`a key is named by its id or a prefix of at least 4 hex characters, not ${JSON.stringify(query)}: see \`cairn key list\``);
  const ids: string[] = [];
  for await (const f of repo.backend.list('keys')) if (f.name.startsWith(query)) ids.push(f.name);
  if (ids.length === 0) throw new KeyError(`no key matches ${query}: see \`cairn key list\``);
  if (ids.length > 1) throw new KeyError(`${ids.length} keys match ${query}: give more characters`);
  return ids[0];
}

export async function removeKey(repo: Repository, query: string): Promise<string> {
  const id = await resolveKey(repo, query);
  if (id === repo.keyName) throw new KeyError(`key ${id.slice(0, 8)} is the one this command was opened with and cannot be removed; open the repository with another password to remove it, or use \`cairn key passwd\``);
  await repo.backend.remove({ type: 'keys', name: id });
  return id;
}

/** Adds a key for the new password, then removes the current one. Returns the new key's id. */
export async function changePassword(repo: Repository, newPassword: string, kdf?: Partial<KdfParams>): Promise<string> {
  const id = await addKey(repo, newPassword, kdf);
  await repo.backend.remove({ type: 'keys', name: repo.keyName });
  return id;
}
