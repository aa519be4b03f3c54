/**
 * All command output goes through here: human text on stdout, progress on a TTY's stderr,
 * or line-delimited JSON on stdout with --json.
 */
export class Output {
  private statusShown = false;

  constructor(
    readonly json: boolean,
    readonly quiet: boolean,
  ) {}

  get showProgress(): boolean {
    return !this.json && !this.quiet && process.stderr.isTTY === true;
  }

  /** A line of human output (suppressed by --quiet and --json). */
  info(line: string): void {
    if (this.json || this.quiet) return;
    this.clearStatus();
    process.stderr.write(`${line}\n`);
  }

  /** The main result of a command in human form. */
  print(line: string): void {
    if (this.json) return;
    this.clearStatus();
    process.stdout.write(`${line}\n`);
  }

  /** One JSON object per line (only with --json). */
  emit(obj: Record<string, unknown>): void {
    if (this.json) process.stdout.write(`${JSON.stringify(obj)}\n`);
  }

  warn(line: string): void {
    this.clearStatus();
    if (this.json) this.emit({ message_type: 'error', error: line });
    else process.stderr.write(`${line}\n`);
  }

  status(line: string): void {
    if (!this.showProgress) return;
    const width = process.stderr.columns || 80;
    process.stderr.write(`\r\x1b[K${line.slice(0, width - 1)}`);
    this.statusShown = true;
  }

  clearStatus(): void {
    if (this.statusShown) {
      process.stderr.write('\r\x1b[K');
      this.statusShown = false;
    }
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(2)} ${units[i]}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

/** "files 120/300, 1.2 GiB/3.0 GiB, 85 MiB/s, ETA 0:23" */
export function progressLine(startedMs: number, files: number, bytes: number, totalFiles?: number, totalBytes?: number): string {
  const elapsed = (Date.now() - startedMs) / 1000;
  const rate = elapsed > 0 ? bytes / elapsed : 0;
  let line = `[${formatDuration(elapsed)}] files ${files}${totalFiles ? `/${totalFiles}` : ''}, ${formatBytes(bytes)}${totalBytes ? `/${formatBytes(totalBytes)}` : ''}, ${formatBytes(rate)}/s`;
  if (totalBytes && rate > 0 && totalBytes > bytes) line += `, ETA ${formatDuration((totalBytes - bytes) / rate)}`;
  return line;
}
