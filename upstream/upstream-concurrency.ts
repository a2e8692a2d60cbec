import type { UpstreamTarget } from '../config';
import type { Logger } from '../telemetry/logger';
import { AdaptiveLimit } from './adaptive-limit';
import type { AttemptOutcome, LimitSignals } from './adaptive-limit';
import { FairLimiter } from './fair-limiter';
import { LimitLog } from './limit-log';
import { OVERLOAD_STATUS } from './retry-policy';
import { ServerQueueWatch } from './server-queue';

/** One attempt as the limit needs it: when it was sent (on the limit's clock) and how many were in flight. */
export interface AttemptMark {
  sentAt: number;
  inFlight: number;
}

/** An upstream's concurrency now: for metrics. */
export type ConcurrencyState = Omit<LimitSignals, 'phase' | 'reason' | 'windows'> & { inFlight: number };

/**
 * The concurrency of one upstream: the fair limiter that hands out its slots, the adaptive limit that sets how
 * many there are (from each attempt's outcome and, where configured, the server's own count of waiting
 * requests), and the log of its noticeable moves.
 */
export class UpstreamConcurrency {
  readonly limiter: FairLimiter;
  private readonly adaptive: AdaptiveLimit;
  private readonly watch: ServerQueueWatch | null = null;
  private readonly log: LimitLog;
  private metricsError: string | null = null;
  /** This worker's share of the upstream's ceiling, from the budget across workers (null: none yet). */
  private share: number | null = null;

  constructor(target: UpstreamTarget, logger?: Logger) {
    this.log = new LimitLog(logger, target.baseUrl);
    this.adaptive = new AdaptiveLimit({
      floor: target.minConcurrency ?? 1,
      ceiling: target.maxConcurrency,
      onChange: () => this.apply(),
      onWindow: () => this.log.consider(this.adaptive.signals(), this.adaptive.time()),
    });
    this.limiter = new FairLimiter(this.adaptive.limit);
    this.log.consider(this.adaptive.signals(), this.adaptive.time());
    const url = target.metricsUrl;
    if (url) {
      this.watch = new ServerQueueWatch({
        url,
        busy: () => this.limiter.inFlight > 0,
        onReading: (waiting, error) => this.reading(url, waiting, error),
      });
    }
  }

  /** An attempt is about to be sent on a slot of this upstream. */
  sending(): AttemptMark {
    this.watch?.wake();
    return { sentAt: this.adaptive.time(), inFlight: this.limiter.inFlight };
  }

  /** The attempt marked `mark` ended so. */
  ended(mark: AttemptMark, outcome: AttemptOutcome): void {
    this.adaptive.record(mark.sentAt, mark.inFlight, outcome);
  }

  /**
   * This worker's share of the upstream's ceiling (its lease on the budget across workers): a hard cap on
   * the requests in flight — 0 stops new ones until the share grows — and the adaptive limit's ceiling.
   */
  setShare(share: number): void {
    this.share = Math.max(0, Math.floor(share));
    this.adaptive.setCeiling(Math.max(1, this.share));
    this.apply();
  }

  /** The limiter gets the adaptive limit, within the share. */
  private apply(): void {
    this.limiter?.setLimit(Math.min(this.adaptive.limit, this.share ?? Infinity));
  }

  state(): ConcurrencyState {
    const { phase: _phase, reason: _reason, windows: _windows, ...signals } = this.adaptive.signals();
    return { ...signals, inFlight: this.limiter.inFlight };
  }

  close(): void {
    this.watch?.close();
  }

  private reading(url: string, waiting: number | null, error: string | null): void {
    this.adaptive.serverWaiting(waiting);
    // Log when the endpoint stops or starts answering, not every second.
    if ((error === null) !== (this.metricsError === null)) this.log.serverMetrics(url, error);
    this.metricsError = error;
  }
}

/** What an HTTP answer says about load. */
export function outcomeOfStatus(status: number): AttemptOutcome {
  if (OVERLOAD_STATUS.has(status)) return 'overload';
  return status >= 200 && status < 300 ? 'ok' : 'other';
}
