import type { ArgumentsCamelCase, Argv } from 'yargs';
import { mountFuse } from '../mount/fuse.js';
import { Vfs } from '../mount/vfs.js';
import { GlobalArgs } from './context.js';
import { withRepository } from './run.js';

export const command = 'mount <mountpoint>';
export const describe = 'browse every snapshot as read-only files (FUSE) until Ctrl-C';
export const builder = (y: Argv) =>
  y
    .positional('mountpoint', { type: 'string', describe: 'an existing empty directory' })
    .option('allow-other', { type: 'boolean', default: false, describe: 'let other users read the mount (non-root: needs user_allow_other in /etc/fuse.conf)' })
    .option('cache-size', { type: 'number', default: 128, describe: 'MiB of decrypted data kept in memory' })
    .option('debug-fuse', { type: 'boolean', default: false, describe: 'print every FUSE request' });

interface Args extends GlobalArgs {
  mountpoint: string;
  allowOther: boolean;
  cacheSize: number;
  debugFuse: boolean;
}

export async function handler(args: ArgumentsCamelCase<Args>) {
  await withRepository(args, async (repo, out) => {
    const vfs = await Vfs.create(repo, { cacheBytes: args.cacheSize * 1024 * 1024 });
    const mounted = await mountFuse(vfs, args.mountpoint, { allowOther: args.allowOther, debug: args.debugFuse });
    out.print(`mounted at ${args.mountpoint}: snapshots/, ids/, hosts/, tags/; Ctrl-C to unmount`);
    out.emit({ message_type: 'mounted', mountpoint: args.mountpoint });
    await untilSignal();
    out.info('unmounting');
    await mounted.unmount();
  });
}

/** Resolves on the first SIGINT or SIGTERM (and keeps the process alive until then). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const keepAlive = setInterval(() => {}, 1 << 30);
    const done = (sig: NodeJS.Signals) => {
      clearInterval(keepAlive);
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve(sig);
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}
