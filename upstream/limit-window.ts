/**
 * The pieces of {@link AdaptiveLimit}'s arithmetic that need no state of their own: a sample window, and the
 * queue thresholds of a limit.
 */

/** A window closes with at least this many samples, and at least one round of the limit (one RTT's worth). */
export const MIN_WINDOW_SAMPLES = 4;

/**
 * Queue thresholds, as fractions of the limit: below `alpha` requests queued there is room to grow, above
 * `beta` the limit is cut; in between it holds. Relative rather than Vegas's log10(limit) so that the settled
 * limit is the same multiple of the server's slots at 4 slots as at 400 (N·1.1 to N·1.25), with absolute
 * minimums so that a server of one or two slots still gets one request queued behind them.
 */
const ALPHA = 0.1;
const BETA = 0.2;
const ALPHA_MIN = 1;
const BETA_MIN = 1.5;

export interface QueueBand {
  /** Grow below this many queued requests. */
  alpha: number;
  /** Cut above this many. */
  beta: number;
  /** Where a cut or a precise step aims: the middle of the band. */
  target: number;
}

export function queueBand(limit: number): QueueBand {
  const alpha = Math.max(ALPHA_MIN, ALPHA * limit);
  const beta = Math.max(BETA_MIN, BETA * limit);
  return { alpha, beta, target: (alpha + beta) / 2 };
}

/**
 * Latency differences below this are not queueing: on a loopback server that answers in a millisecond, the
 * client's own event loop makes more difference than the server's queue.
 */
export const RTT_TOLERANCE_MS = 5;

/**
 * Requests queued, from latency: TCP Vegas's `inFlight × (1 − rttNoLoad / rtt)`. By Little's law, requests in
 * flight over the round trip is the throughput; at no load it would be `inFlight / rttNoLoad`; the difference,
 * times the round trip, is what waits. Latency that rose without more throughput is queueing.
 */
export function queueFromLatency(inFlight: number, rttMs: number, noLoadRttMs: number): number {
  if (rttMs <= 0) return 0;
  return (inFlight * Math.max(0, rttMs - noLoadRttMs - RTT_TOLERANCE_MS)) / rttMs;
}

/** The answers of requests sent after the limit last changed, summed as they arrive (O(1) per answer). */
export class SampleWindow {
  count = 0;
  private rttSum = 0;
  private inFlightSum = 0;
  maxInFlight = 0;
  /** When the first answer of the window arrived; a server reading older than that predates the window. */
  firstAt: number | null = null;

  add(rttMs: number, inFlight: number, at: number): void {
    this.count++;
    this.rttSum += rttMs;
    this.inFlightSum += inFlight;
    if (inFlight > this.maxInFlight) this.maxInFlight = inFlight;
    this.firstAt ??= at;
  }

  get meanRtt(): number {
    return this.rttSum / this.count;
  }

  get meanInFlight(): number {
    return this.inFlightSum / this.count;
  }

  /** Whether the window has one round of `limit` answers (and a few at least). */
  full(limit: number): boolean {
    return this.count >= Math.max(MIN_WINDOW_SAMPLES, limit);
  }

  reset(): void {
    this.count = 0;
    this.rttSum = 0;
    this.inFlightSum = 0;
    this.maxInFlight = 0;
    this.firstAt = null;
  }
}
