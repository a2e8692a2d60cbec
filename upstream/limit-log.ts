import type { Logger } from '../telemetry/logger';
import type { LimitSignals } from './limit-signals';

/** At most one line about a limit this often. */
const MIN_INTERVAL_MS = 5_000;
/** A move of at least this many requests, or this share of the last logged limit, is worth a line. */
const STEP_MIN = 2;
const STEP_SHARE = 0.2;

/**
 * Decides which changes of an upstream's adaptive limit are logged: not every window (that would be a line
 * per round trip), but a move by a noticeable step (2 requests and 20%) or a turn (the limit moving the other
 * way than it last did), at most every 5 seconds, and not a probe's halving for one window. A change held back by the interval is logged at the next
 * window after it, if the limit is still away from the last logged value.
 */
export class LimitLog {
  private logged: number | null = null;
  private direction = 0;
  private at = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly logger: Logger | undefined,
    private readonly upstream: string,
  ) {}

  /** Called after every window (and change): logs it if it is worth it. Returns whether it did. */
  consider(signals: LimitSignals, now: number): boolean {
    const { limit } = signals;
    if (this.logged === null) return this.write(signals, now, 0);
    // A probe halves the limit for one window and puts it back: not a move.
    if (signals.phase === 'probe') return false;
    const moved = limit - this.logged;
    if (moved === 0 || now - this.at < MIN_INTERVAL_MS) return false;
    const direction = Math.sign(moved);
    const step = Math.abs(moved) >= Math.max(STEP_MIN, STEP_SHARE * this.logged);
    const turned = this.direction !== 0 && direction !== this.direction;
    if (!step && !turned) return false;
    return this.write(signals, now, direction);
  }

  /** A metrics endpoint stopped or started answering. */
  serverMetrics(url: string, error: string | null): void {
    if (error !== null) {
      this.logger?.warn(
        { upstream: this.upstream, metricsUrl: url, error },
        'upstream metrics unreadable: the concurrency limit follows latency alone',
      );
    } else {
      this.logger?.info({ upstream: this.upstream, metricsUrl: url }, 'upstream metrics readable again');
    }
  }

  private write(s: LimitSignals, now: number, direction: number): boolean {
    const previous = this.logged;
    this.logged = s.limit;
    this.direction = direction;
    this.at = now;
    this.logger?.info(
      {
        upstream: this.upstream,
        limit: s.limit,
        previous,
        reason: s.reason,
        ceiling: s.ceiling,
        noLoadRttMs: round(s.noLoadRttMs),
        recentRttMs: round(s.recentRttMs),
        queueEstimate: round(s.queueEstimate),
        serverWaiting: s.serverWaiting,
      },
      previous === null
        ? `upstream concurrency limit starts at ${s.limit}`
        : `upstream concurrency limit ${previous} → ${s.limit}`,
    );
    return true;
  }
}

function round(v: number | null): number | null {
  return v === null ? null : Math.round(v * 10) / 10;
}
