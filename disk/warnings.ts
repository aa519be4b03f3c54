import type { OpenOptions } from './types.js';

/** Past this many, warnings are dropped: one damaged structure must not flood the caller. */
const MAX_WARNINGS = 1000;

export type Warn = (message: string) => void;

export function makeWarner(opts: OpenOptions | undefined, prefix: string): Warn {
  const sink = opts?.onWarning;
  if (!sink) return () => {};
  let count = 0;
  return (message) => {
    count++;
    if (count < MAX_WARNINGS) sink(`${prefix}: ${message}`);
    else if (count === MAX_WARNINGS) sink(`${prefix}: too many warnings; further ones are suppressed`);
  };
}
