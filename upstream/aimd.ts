/**
 * Additive-increase / multiplicative-decrease of an upstream's concurrency, as TCP does for its window:
 * every answer that was not an overload adds 1/limit (so +1 per round of `limit` requests), and an overload
 * answer (429, 503) halves it. Only requests sent after the last decrease can decrease it again, since the
 * others were sent under the old limit: one overloaded round halves the limit once. The limit stays within
 * [1, max], and climbs back to max once the upstream recovers.
 */
export class Aimd {
  private value: number;
  private lastDecrease = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly max: number,
    private readonly onChange: (limit: number) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.value = max;
  }

  get limit(): number {
    return Math.floor(this.value);
  }

  success(): void {
    if (this.value >= this.max) return;
    const before = this.limit;
    this.value = Math.min(this.max, this.value + 1 / this.value);
    if (this.limit !== before) this.onChange(this.limit);
  }

  /** An overload answer to a request sent at `sentAt` (epoch ms). */
  overload(sentAt: number): void {
    if (sentAt < this.lastDecrease) return;
    this.lastDecrease = this.now();
    const before = this.limit;
    this.value = Math.max(1, this.value / 2);
    if (this.limit !== before) this.onChange(this.limit);
  }
}
