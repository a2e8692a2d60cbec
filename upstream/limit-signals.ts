/** What the adaptive limit (adaptive-limit.ts) takes and tells: the outcome of an attempt, its options, what it knows. */

/** What became of one attempt, as the limit sees it. */
export type AttemptOutcome =
  /** A 2xx answer: its round trip is a latency sample. */
  | 'ok'
  /** 429 or 503: the server says it has too much. */
  | 'overload'
  /** No complete answer within the request deadline. */
  | 'timeout'
  /** Anything else (4xx, 500, a reset): says nothing about load, and its round trip is not a sample. */
  | 'other';

/** Why the limit last moved. */
export type LimitReason = 'start' | 'latency' | 'server-queue' | 'overload' | 'timeout' | 'ceiling' | 'probe';

/** What the limit knows now: for metrics and logs. */
export interface LimitSignals {
  limit: number;
  ceiling: number;
  floor: number;
  /** The round trip without queueing: the lowest window average since the last probe; null before any. */
  noLoadRttMs: number | null;
  /** The average round trip of the last window. */
  recentRttMs: number | null;
  /** Requests queued at the server by the last window: the larger of the latency and the server's estimate. */
  queueEstimate: number | null;
  /** Requests the server itself reported waiting (its Prometheus metrics); null when not configured or stale. */
  serverWaiting: number | null;
  /** `start`: doubling each window; `steady`: within the queue band; `probe`: re-measuring the no-load RTT. */
  phase: 'start' | 'steady' | 'probe';
  reason: LimitReason;
  /** Windows decided so far. */
  windows: number;
}

export interface AdaptiveLimitOptions {
  /** UPSTREAM_MIN_CONCURRENCY: the limit never goes below it (unless the ceiling does). */
  floor: number;
  /** UPSTREAM_MAX_CONCURRENCY: the limit never goes above it; {@link AdaptiveLimit.setCeiling} lowers it. */
  ceiling: number;
  /** Where the limit starts; default max(floor, 4) within the ceiling: low, then up while nothing queues. */
  initial?: number;
  /** A monotonic clock in ms (performance.now()); attempts' `sentAt` must be on it. */
  now?: () => number;
  /** Called with the new limit whenever it changes. */
  onChange?: (limit: number) => void;
  /** Called after every window's decision, and every change (logs). */
  onWindow?: () => void;
}
