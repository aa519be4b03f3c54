import type { ArgumentsCamelCase, Argv } from 'yargs';
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
    const { Vfs } = await import('../mount/vfs.js');
    const vfs = await Vfs.create(repo, { cacheBytes: args.cacheSize * 1024 * 1024 });
    // Handlers go in before mounting: libfuse installs its own for signals still at their
    // default, and those would end the process without unmounting.
    const signal = untilSignal();
    let mounted;
    try {
      const { mountFuse } = await import('../mount/fuse.js');
      mounted = await mountFuse(vfs, args.mountpoint, { allowOther: args.allowOther, debug: args.debugFuse });
    } catch (err) {
      signal.cancel();
      throw err;
    }
    out.print(`mounted at ${args.mountpoint}: snapshots/, ids/, hosts/, tags/; Ctrl-C to unmount`);
    out.emit({ message_type: 'mounted', mountpoint: args.mountpoint });
    await signal.received;
    out.info('unmounting');
    await mounted.unmount();
  });
}

/** `received` resolves on the first SIGINT or SIGTERM; until then the process stays alive. */
export function untilSignal(): { received: Promise<NodeJS.Signals>; cancel: () => void } {
  const keepAlive = setInterval(() => {}, 1 << 30);
  let resolve!: (s: NodeJS.Signals) => void;
  const received = new Promise<NodeJS.Signals>((r) => (resolve = r));
  const cancel = () => {
    clearInterval(keepAlive);
    process.off('SIGINT', done);
    process.off('SIGTERM', done);
  };
  const done = (sig: NodeJS.Signals) => {
    cancel();
    resolve(sig);
  };
  process.on('SIGINT', done);
  process.on('SIGTERM', done);
  return { received, cancel };
}
