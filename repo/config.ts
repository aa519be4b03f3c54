import { ChunkerParams, DEFAULT_CHUNKER } from '../chunker/params.js';

export const FORMAT_VERSION = 1;
export const DEFAULT_PACK_SIZE = 16 * 1024 * 1024;

export interface RepoConfig {
  version: number;
  /** Random, hex; names the local cache folder. */
  id: string;
  chunker: ChunkerParams;
  compression: 'zstd';
  packSize: number;
}

export function validateConfig(c: unknown): RepoConfig {
  const cfg = c as RepoConfig;
  if (!cfg || typeof cfg !== 'object') throw new Error('config is not an object');
  if (cfg.version !== FORMAT_VERSION) {
    throw new Error(`repository format version ${cfg.version} is not supported by this cairn (supports ${FORMAT_VERSION})`);
  }
  if (typeof cfg.id !== 'string' || !/^[0-9a-f]{64}$/.test(cfg.id)) throw new Error('config has a bad repository id');
  const ch = cfg.chunker;
  const ok = (n: unknown) => Number.isInteger(n) && (n as number) >= 64 && (n as number) <= 64 * 1024 * 1024;
  if (!ch || !ok(ch.min) || !ok(ch.avg) || !ok(ch.max) || !(ch.min <= ch.avg && ch.avg <= ch.max)) {
    throw new Error('config has bad chunker parameters');
  }
  if (!Number.isInteger(cfg.packSize) || cfg.packSize < 4096 || cfg.packSize > 1024 * 1024 * 1024) {
    throw new Error('config has a bad pack size');
  }
  return cfg;
}

export function newConfig(id: string, opts: { chunker?: ChunkerParams; packSize?: number } = {}): RepoConfig {
  return {
    version: FORMAT_VERSION,
    id,
    chunker: opts.chunker ?? DEFAULT_CHUNKER,
    compression: 'zstd',
    packSize: opts.packSize ?? DEFAULT_PACK_SIZE,
  };
}
