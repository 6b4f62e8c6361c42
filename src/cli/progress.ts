/**
 * Progress on stderr for long operations (export, offline verify). On a terminal it redraws one line about ten times a
 * second; otherwise (when asked with `-progress`) it writes a plain line every few seconds, and a summary at the end.
 */
export interface ProgressOptions {
  readonly enabled: boolean;
  /** What is being counted, e.g. "exported" or "verified". */
  readonly verb: string;
  /** Total bytes, when known: shows a percentage. */
  readonly totalBytes?: number;
  readonly stream?: NodeJS.WriteStream;
}

const fmtRate = (n: number, seconds: number): string => (seconds > 0 ? Math.round(n / seconds).toLocaleString('en-US') : '-');

export class Progress {
  private readonly opts: ProgressOptions;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly started = Date.now();
  /** The first line is drawn after a short while, not at once (a quick run shows only the summary). */
  private lastDraw = Date.now();
  private count = 0;
  private bytes = 0;

  constructor(opts: ProgressOptions) {
    this.opts = opts;
    this.stream = opts.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true;
  }

  /** Record `entries` more entries (and `bytes` more bytes read, for a percentage). Cheap: draws at most 10 times a second. */
  tick(entries: number, bytes = 0): void {
    this.count += entries;
    this.bytes += bytes;
    if (!this.opts.enabled) return;
    const now = Date.now();
    if (now - this.lastDraw < (this.tty ? 100 : 2000)) return;
    this.lastDraw = now;
    const line = this.line(now);
    if (this.tty) this.stream.write(`\r\x1b[K${line}`);
    else this.stream.write(`${line}\n`);
  }

  get entries(): number {
    return this.count;
  }

  /** Clears the live line and writes the summary (when enabled). */
  done(suffix = ''): void {
    if (!this.opts.enabled) return;
    const line = this.line(Date.now(), true);
    this.stream.write(`${this.tty ? '\r\x1b[K' : ''}${line}${suffix}\n`);
  }

  private line(now: number, final = false): string {
    const secs = (now - this.started) / 1000;
    const pct =
      this.opts.totalBytes && this.opts.totalBytes > 0 && !final
        ? ` ${Math.min(100, Math.floor((this.bytes / this.opts.totalBytes) * 100))}%`
        : '';
    return `${this.opts.verb} ${this.count.toLocaleString('en-US')} entries${pct} in ${secs.toFixed(1)} s (${fmtRate(this.count, secs)} entries/s)`;
  }
}
