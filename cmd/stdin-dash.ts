/**
 * yargs takes a lone "-" for a positional argument (stdin, in many tools' syntax), so in
 * `--files-from -` the flag got no value and the "-" was lost. The flags that read "-"
 * as stdin get it glued on (`--files-from=-`) before yargs sees the arguments.
 */
const READ_STDIN_DASH = new Set(['--files-from', '--files-from-raw', '--exclude-file', '--iexclude-file']);

export function attachStdinDashes(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    // After "--" every word is an operand (a path, or --stdin-from-command's command).
    if (argv[i] === '--') return out.concat(argv.slice(i));
    if (READ_STDIN_DASH.has(argv[i]) && argv[i + 1] === '-') out.push(`${argv[i++]}=-`);
    else out.push(argv[i]);
  }
  return out;
}
