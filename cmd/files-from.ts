/**
 * The paths of `backup --files-from` and `--files-from-raw`, as restic reads them: one per
 * line, skipping empty lines and lines that start with `#`; or separated by NUL bytes (from
 * `find -print0`), taken as they are. Names are paths, not patterns: nothing is expanded.
 */
export function parseFilesFrom(text: string, raw: boolean): string[] {
  if (raw) return text.split('\0').filter((p) => p !== '');
  return text
    .split('\n')
    .map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
    .filter((l) => l !== '' && !l.startsWith('#'));
}
