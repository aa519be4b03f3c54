import type { ArgumentsCamelCase, Argv } from 'yargs';
import { imageInfo } from '../repo/image-snapshot.js';
import { resolveSnapshot } from '../repo/snapshot-select.js';
import { GlobalArgs } from './context.js';
import { untilSignal } from './mount.js';
import { withRepository } from './run.js';
import { UsageError } from './usage-error.js';

export const command = 'serve <protocol>';
export const describe = 'serve snapshots read-only: every snapshot over WebDAV, or one disk image over NBD';

/** `HOST:PORT`, `[V6]:PORT` or `PORT` (loopback). */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(s) ?? /^()()(\d+)$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--listen ${s}: give HOST:PORT, like 127.0.0.1:8080`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

interface WebDavArgs extends GlobalArgs {
  listen: string;
  user?: string;
  passwordEnv?: string;
  cacheSize: number;
}

interface NbdArgs extends GlobalArgs {
  snapshot: string;
  listen: string;
  partition?: number;
}

export const builder = (y: Argv) =>
  y
    .command(
      'webdav',
      'serve the same tree as `cairn mount` over WebDAV (Finder, Explorer, rclone, browsers)',
      (w) =>
        w
          .option('listen', { type: 'string', default: '127.0.0.1:8080', describe: 'address and port (loopback unless you say otherwise)' })
          .option('user', { type: 'string', describe: 'require basic auth with this user name' })
          .option('password-env', { type: 'string', describe: 'environment variable holding the basic-auth password' })
          .option('cache-size', { type: 'number', default: 128, describe: 'MiB of decrypted data kept in memory' }),
      (args) => serveWebDavCommand(args as ArgumentsCamelCase<WebDavArgs>),
    )
    .command(
      'nbd <snapshot>',
      'export an image snapshot (or one partition) as a read-only network block device',
      (n) =>
        n
          .positional('snapshot', { type: 'string', describe: 'image snapshot id, prefix, or latest' })
          .option('listen', { type: 'string', default: '127.0.0.1:10809', describe: 'address and port' })
          .option('partition', { type: 'number', describe: 'export only partition N of the image' }),
      (args) => serveNbdCommand(args as ArgumentsCamelCase<NbdArgs>),
    )
    .demandCommand(1, 'name a protocol: webdav or nbd');

export async function handler() {}

async function serveWebDavCommand(args: ArgumentsCamelCase<WebDavArgs>) {
  const { host, port } = parseListen(args.listen);
  let auth: { user: string; password: string } | undefined;
  if (args.user !== undefined || args.passwordEnv !== undefined) {
    const password = args.passwordEnv ? process.env[args.passwordEnv] : undefined;
    if (!args.user || !password) throw new UsageError('basic auth needs both --user and --password-env naming a set environment variable');
    auth = { user: args.user, password };
  }
  await withRepository(args, async (repo, out) => {
    if (!auth && !isLoopback(host)) out.warn(`warning: serving without a password on ${host}: anyone who reaches it can read every snapshot`);
    const { Vfs } = await import('../mount/vfs.js');
    const vfs = await Vfs.create(repo, { cacheBytes: args.cacheSize * 1024 * 1024 });
    const { serveWebDav } = await import('../mount/webdav.js');
    const server = await serveWebDav(vfs, { host, port, auth });
    const shown = host.includes(':') ? `[${host}]` : host;
    out.print(`serving WebDAV on http://${shown}:${server.port}/ (read-only); Ctrl-C to stop`);
    out.emit({ message_type: 'listening', protocol: 'webdav', host, port: server.port });
    await untilSignal().received;
    await server.close();
  });
}

async function serveNbdCommand(args: ArgumentsCamelCase<NbdArgs>) {
  const { host, port } = parseListen(args.listen);
  await withRepository(args, async (repo, out) => {
    const ref = await resolveSnapshot(repo, args.snapshot);
    const info = imageInfo(ref.snapshot, ref.id);
    const [{ openImageSnapshot }, { readPartitionTable }, { sliceSource }, { serveNbd }] = await Promise.all([
      import('../repo/image-reader.js'),
      import('../disk/partitions.js'),
      import('../disk/slice.js'),
      import('../mount/nbd.js'),
    ]);
    let source = await openImageSnapshot(repo, ref.snapshot, ref.id);
    let what = `image ${ref.id.slice(0, 8)} (${info.source})`;
    if (args.partition !== undefined) {
      // A plain-mode snapshot records no table: read it from the image itself.
      const parts = info.partitionTable?.partitions ?? (await readPartitionTable(source)).partitions;
      const p = parts.find((x) => x.number === args.partition);
      if (!p) throw new UsageError(`snapshot ${ref.id.slice(0, 8)} has no partition ${args.partition}; it has ${parts.map((x) => x.number).join(', ') || 'none'}`);
      source = sliceSource(source, p.start, p.size);
      what += ` partition ${p.number}`;
    }
    if (!isLoopback(host)) out.warn(`warning: NBD has no authentication: anyone who reaches ${host} can read this image`);
    const server = await serveNbd({ name: ref.id.slice(0, 8), description: what, source }, host, port, (l) => out.warn(l));
    const shown = host.includes(':') ? `[${host}]` : host;
    out.print(`serving ${what}, ${source.size} bytes, read-only on nbd://${shown}:${server.port}/ ; Ctrl-C to stop`);
    out.emit({ message_type: 'listening', protocol: 'nbd', host, port: server.port, size: source.size });
    await untilSignal().received;
    await server.close();
  });
}
