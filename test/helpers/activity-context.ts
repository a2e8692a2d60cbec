import { asyncLocalStorage } from '@temporalio/activity';
import type { Context } from '@temporalio/activity';

export interface ActivityAttempt {
  attempt?: number;
  /** What Temporal recorded of the previous attempt's last heartbeat. */
  heartbeatDetails?: unknown;
  /** Receives every heartbeat the activity sends. */
  onHeartbeat?: (details: unknown) => void;
}

/**
 * Runs `fn` as one attempt of an activity outside a Temporal worker, in an activity context that holds
 * what our activities read of it: the attempt, the last heartbeat, `heartbeat()` and a cancellation signal
 * (never aborted).
 */
export function runAsActivity<T>(fn: () => Promise<T>, options: ActivityAttempt = {}): Promise<T> {
  const context = {
    info: { attempt: options.attempt ?? 1, heartbeatDetails: options.heartbeatDetails },
    heartbeat: options.onHeartbeat ?? (() => undefined),
    cancellationSignal: new AbortController().signal,
    cancellationDetails: undefined,
  };
  return asyncLocalStorage.run(context as unknown as Context, fn);
}
