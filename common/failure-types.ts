/**
 * The closed set of `ApplicationFailure.type` strings our activities throw: what operators see on a failed
 * activity in the Web UI and in `temporal workflow show`. Those thrown non-retryable end the batch as
 * `failed` with the failure's message; the workflow does not branch on the type.
 */
export const FailureType = {
  /** The input file, or a part object the batch depends on, is gone from storage. */
  InputFileMissing: 'InputFileMissing',
  /** Storage holds something that contradicts the batch's own records (a bug, or tampering). */
  CorruptBatchState: 'CorruptBatchState',
  /** The upstream could not be reached for any request of a chunk; retried by Temporal from the watermark. */
  UpstreamUnavailable: 'UpstreamUnavailable',
  /** The worker running a chunk is stopping; the chunk flushed what finished and is retried at once elsewhere. */
  WorkerShutdown: 'WorkerShutdown',
  /**
   * A later attempt of the chunk started on the worker running this one (Temporal had timed this one out,
   * e.g. while the server was unreachable); this one stored what it finished and stopped. Nobody waits for it.
   */
  ChunkSuperseded: 'ChunkSuperseded',
  /** The webhook target is not allowed (not HTTPS, or not public); delivery is not attempted. */
  WebhookRefused: 'WebhookRefused',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];
