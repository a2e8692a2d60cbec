import { queueBand, queueFromLatency, RTT_TOLERANCE_MS, SampleWindow } from './limit-window';
import type { AdaptiveLimitOptions, AttemptOutcome, LimitReason, LimitSignals } from './limit-signals';

export type { AdaptiveLimitOptions, AttemptOutcome, LimitReason, LimitSignals } from './limit-signals';

const INITIAL_LIMIT = 4;
/** 429, 503 and timeouts multiply the limit by this, at most once per window (CUBIC's β). */
const BACKOFF = 0.7;
/** After climbing back to just below where the server refused, hold this many windows before going past it. */
const PLATEAU_WINDOWS = 10;
/** One latency cut at most halves the limit: one odd window must not collapse it. */
const MAX_CUT = 0.5;
/** The no-load RTT is re-measured this often (or every this many no-load RTTs, if longer). */
const PROBE_INTERVAL_MS = 30_000;
const PROBE_INTERVAL_RTTS = 50;
/** Two probe steps whose round trips differ by less than this share (or RTT_TOLERANCE_MS) agree: the probe ends. */
const PROBE_AGREE = 0.1;
/** A server reading older than this is stale: the limit follows latency alone. */
const SERVER_READING_MAX_AGE_MS = 3_000;

/**
 * An upstream's concurrency limit that adapts to what the upstream shows, in the family of TCP Vegas (and
 * Netflix's VegasLimit). Every window of answers (one round of the limit, sent after it last changed) gives an
 * average round trip; the queue at the server is estimated as `inFlight × (1 − rttNoLoad / rtt)`, or read from
 * the server's own metrics where configured, whichever is larger. The limit doubles while nothing queues (slow
 * start), then holds the queue between alpha and beta (10–20% of the limit): below, it grows; above, it is cut to
 * what the server serves plus the middle of the band. 429, 503 and timeouts multiply it by 0.7, once per window.
 *
 * The no-load RTT is the lowest window average since it was last measured; it is re-measured by a probe (half
 * the limit for one window, as BBR's ProbeRTT) every 30 s, and before a second latency cut in a row, so that a
 * server that got slower raises it instead of driving the limit to the floor.
 */
export class AdaptiveLimit {
  private value: number;
  private floorValue: number;
  private ceilingValue: number;
  private readonly maxCeiling: number;
  private readonly now: () => number;
  private readonly onChange: (limit: number) => void;
  private readonly onWindow: () => void;
  private readonly window = new SampleWindow();
  /** Answers to requests sent before this are not counted: they were sent under another limit. */
  private epochStart = Number.NEGATIVE_INFINITY;
  private lastDecreaseAt = Number.NEGATIVE_INFINITY;
  private phase: LimitSignals['phase'] = 'start';
  private reason: LimitReason = 'start';
  private lastAction: 'grow' | 'hold' | 'cut' | 'backoff' | 'probe' = 'hold';
  /** The limit to return to after a probe, and the round trip the probe's next step must beat to go deeper. */
  private probeSaved = 0;
  private probeRef = Number.POSITIVE_INFINITY;
  private probeDeeper = false;
  private noLoadRtt: number | null = null;
  private noLoadAt = 0;
  private recentRtt: number | null = null;
  private queueEstimate: number | null = null;
  /** The limit at the last 429/503/timeout: growth slows near it. */
  private lossLimit: number | null = null;
  private growthStreak = 0;
  /** Windows still to hold just below `lossLimit` before probing past it. */
  private plateau = 0;
  private server: { waiting: number; at: number } | null = null;
  private windows = 0;

  constructor(options: AdaptiveLimitOptions) {
    this.maxCeiling = Math.max(1, Math.floor(options.ceiling));
    this.ceilingValue = this.maxCeiling;
    this.floorValue = Math.max(1, Math.min(Math.floor(options.floor), this.ceilingValue));
    this.now = options.now ?? (() => performance.now());
    this.onChange = options.onChange ?? (() => undefined);
    this.onWindow = options.onWindow ?? (() => undefined);
    this.value = this.clamp(options.initial ?? Math.max(this.floorValue, INITIAL_LIMIT));
  }

  get limit(): number {
    return this.value;
  }

  /** The time on the limit's clock: what `sentAt` of {@link record} is measured on. */
  time(): number {
    return this.now();
  }

  /**
   * One attempt ended. `sentAt` is when it was sent (on this clock) and `inFlight` how many requests of this
   * upstream were in flight then, itself included.
   */
  record(sentAt: number, inFlight: number, outcome: AttemptOutcome): void {
    if (outcome === 'overload' || outcome === 'timeout') {
      // Requests sent before the last decrease were sent under a higher limit: one overloaded round, one cut.
      if (sentAt >= this.lastDecreaseAt) {
        this.backoff(outcome);
        this.onWindow();
      }
      return;
    }
    if (outcome !== 'ok' || sentAt < this.epochStart) return;
    const now = this.now();
    this.window.add(now - sentAt, inFlight, now);
    if (this.window.full(this.value)) {
      this.decide(now);
      this.onWindow();
    }
  }

  /** Requests the server reports waiting (null: its metrics could not be read). */
  serverWaiting(waiting: number | null): void {
    this.server = waiting === null ? null : { waiting, at: this.now() };
  }

  /**
   * Changes the ceiling at run time (a share of a budget across workers): at most the configured
   * UPSTREAM_MAX_CONCURRENCY and at least 1. A lower ceiling lowers the limit at once; a higher one lets it grow.
   */
  setCeiling(ceiling: number): void {
    this.ceilingValue = Math.max(1, Math.min(this.maxCeiling, Math.floor(ceiling)));
    if (this.phase === 'probe') this.probeSaved = Math.min(this.probeSaved, this.ceilingValue);
    if (this.value > this.ceilingValue) this.set(this.ceilingValue, 'ceiling');
    else if (this.value < this.effectiveFloor()) this.set(this.effectiveFloor(), 'ceiling'); // the floor is back
    this.onWindow();
  }

  signals(): LimitSignals {
    return {
      limit: this.value,
      ceiling: this.ceilingValue,
      floor: this.effectiveFloor(),
      noLoadRttMs: this.noLoadRtt,
      recentRttMs: this.recentRtt,
      queueEstimate: this.queueEstimate,
      serverWaiting: this.freshServerWaiting(this.now()),
      phase: this.phase,
      reason: this.reason,
      windows: this.windows,
    };
  }

  private decide(now: number): void {
    const w = this.window;
    this.windows++;
    this.recentRtt = w.meanRtt;
    if (this.phase === 'probe') return this.endProbe(now, w.meanRtt);
    if (this.noLoadRtt === null || w.meanRtt < this.noLoadRtt) {
      this.noLoadRtt = w.meanRtt;
      this.noLoadAt = now;
    }
    const fromLatency = queueFromLatency(w.meanInFlight, w.meanRtt, this.noLoadRtt);
    const fromServer = w.firstAt !== null && (this.server?.at ?? -1) >= w.firstAt ? this.freshServerWaiting(now) : null;
    const queue = Math.max(fromLatency, fromServer ?? 0);
    const why: LimitReason = fromServer !== null && fromServer > fromLatency ? 'server-queue' : 'latency';
    this.queueEstimate = queue;
    const band = queueBand(this.value);
    if (queue > band.beta) this.cut(queue, w.meanInFlight, why);
    else if (queue < band.alpha && w.maxInFlight * 2 >= this.value) this.grow(queue, why);
    else this.hold();
    // The decision above may have started a probe (TypeScript still narrows `phase` to what it was).
    if ((this.phase as LimitSignals['phase']) !== 'probe' && now - this.noLoadAt >= this.probeInterval()) {
      this.startProbe();
    }
  }

  /** Too much queued: down to what the server serves without queueing, plus the middle of the band. */
  private cut(queue: number, inFlight: number, why: LimitReason): void {
    if (this.lastAction === 'cut') return this.startProbe(); // first make sure the no-load RTT is still right
    this.lastAction = 'cut';
    this.growthStreak = 0;
    this.leaveStart();
    const served = inFlight - queue;
    const next = Math.max(Math.ceil(this.value * MAX_CUT), Math.round(served + queueBand(served).target));
    this.lastDecreaseAt = this.now();
    this.set(Math.min(this.value - 1, next), why);
  }

  private grow(queue: number, why: LimitReason): void {
    this.lastAction = 'grow';
    const band = queueBand(this.value);
    let next: number;
    if (queue > band.alpha / 2) {
      // Close to the band: a measured step, to where the queue would reach its middle (none if under one).
      const step = Math.round(band.target - queue);
      if (step < 1) return this.hold();
      next = this.value + step;
      this.growthStreak = 0;
    } else if (this.phase === 'start') {
      next = this.value * 2;
    } else if (this.lossLimit !== null && this.value < this.lossLimit - 1) {
      // Back toward just below where the server last refused, halving the distance each window; then a pause.
      next = Math.min(this.lossLimit - 1, this.value + Math.max(1, Math.round((this.lossLimit - this.value) / 2)));
      if (next === this.lossLimit - 1) this.plateau = PLATEAU_WINDOWS;
    } else if (this.plateau > 0) {
      this.plateau--;
      return this.hold();
    } else {
      // Nothing queues and nothing was refused here: probe upward, +1, +2, +4… up to half the limit.
      next = this.value + Math.min(Math.max(1, Math.floor(this.value / 2)), 2 ** this.growthStreak++);
    }
    this.set(next, why);
  }

  private hold(): void {
    this.lastAction = 'hold';
    this.growthStreak = 0;
    this.newWindow();
  }

  private backoff(outcome: 'overload' | 'timeout'): void {
    const from = this.phase === 'probe' ? this.probeSaved : this.value;
    this.leaveStart();
    this.phase = 'steady';
    this.lastAction = 'backoff';
    this.growthStreak = 0;
    this.plateau = 0;
    this.lossLimit = from;
    this.lastDecreaseAt = this.now();
    this.set(Math.min(from - 1, Math.floor(from * BACKOFF)), outcome);
  }

  /**
   * The first no-load RTT was measured at the starting limit, which may already have queued (a server of
   * one or two slots): re-measure it once slow start ends.
   */
  private leaveStart(): void {
    if (this.phase !== 'start') return;
    this.phase = 'steady';
    this.noLoadAt = Number.NEGATIVE_INFINITY;
  }

  /**
   * Half the limit for one window: the queue drains, and that window's average is the no-load RTT. While a
   * step's round trip differs from the last by more than 10% (lower: the queue had not drained yet; higher:
   * the server got slower, or the step still queued behind the new service time), it halves again, down to
   * the floor. Two steps that agree, or the floor, end it.
   */
  private startProbe(): void {
    this.lastAction = 'probe';
    this.probeSaved = this.value;
    this.probeRef = this.noLoadRtt ?? Number.POSITIVE_INFINITY;
    this.probeDeeper = false;
    this.phase = 'probe';
    this.set(Math.ceil(this.value / 2), 'probe');
  }

  private endProbe(now: number, rtt: number): void {
    const agrees = Math.abs(rtt - this.probeRef) <= Math.max(PROBE_AGREE * this.probeRef, RTT_TOLERANCE_MS);
    if (!agrees && this.value > this.effectiveFloor()) {
      this.probeRef = rtt;
      this.probeDeeper = true;
      return this.set(Math.ceil(this.value / 2), 'probe');
    }
    // Replaces, not lowers: a server that got slower for good raises it.
    this.noLoadRtt = this.probeDeeper ? Math.min(rtt, this.probeRef) : rtt;
    this.noLoadAt = now;
    this.phase = 'steady';
    this.set(this.probeSaved, 'probe');
  }

  private probeInterval(): number {
    return Math.max(PROBE_INTERVAL_MS, PROBE_INTERVAL_RTTS * (this.noLoadRtt ?? 0));
  }

  private freshServerWaiting(now: number): number | null {
    return this.server !== null && now - this.server.at <= SERVER_READING_MAX_AGE_MS ? this.server.waiting : null;
  }

  private effectiveFloor(): number {
    return Math.min(this.floorValue, this.ceilingValue);
  }

  private clamp(limit: number): number {
    return Math.max(this.effectiveFloor(), Math.min(this.ceilingValue, Math.round(limit)));
  }

  /** Sets the limit (clamped) and starts a new window: later answers are to requests sent under it. */
  private set(limit: number, reason: LimitReason): void {
    const next = this.clamp(limit);
    this.newWindow();
    if (next === this.value) return;
    this.value = next;
    this.reason = reason;
    this.epochStart = this.now();
    this.onChange(next);
  }

  private newWindow(): void {
    this.window.reset();
  }
}
