// A progress bar on stderr: redrawn in place on a terminal, a line every 10% elsewhere (logs stay short).

export class Progress {
  private count = 0;
  private lastTenth = -1;
  private readonly started = Date.now();

  constructor(
    private readonly total: number,
    private readonly what = "",
  ) {}

  tick(label: string): void {
    this.count++;
    const fraction = this.total > 0 ? this.count / this.total : 1;
    const elapsed = (Date.now() - this.started) / 1000;
    const eta = fraction > 0 ? elapsed / fraction - elapsed : 0;
    const width = 24;
    const filled = Math.round(fraction * width);
    const bar = `${this.what ? `${this.what} ` : ""}[${"#".repeat(filled)}${".".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${label}  ETA ${eta.toFixed(0)} s`;
    if (process.stderr.isTTY) {
      process.stderr.write(`\r${bar}\u001b[K`);
    } else if (Math.floor(fraction * 10) > this.lastTenth) {
      this.lastTenth = Math.floor(fraction * 10);
      process.stderr.write(`${bar}\n`);
    }
  }

  done(): void {
    if (process.stderr.isTTY) process.stderr.write("\n");
  }
}
