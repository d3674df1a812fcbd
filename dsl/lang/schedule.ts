// Helpers for kernels' heuristics (plain TypeScript, run when a schedule is chosen; never in a body).

/**
 * The smallest block size of at least `atLeast` threads that is a whole number of warps and of rows of
 * `lanes` threads each, so that no thread is left without a row: 256 for 8 or 16 lanes, 320 for 10 (D 80),
 * 288 for 12 (D 96), 448 for 14 (D 112).
 */
export function threadsForRows(lanes: number, atLeast: number): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const unit = (32 * lanes) / gcd(32, lanes);
  return Math.ceil(atLeast / unit) * unit;
}
