import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';

export interface ActivityAttempt {
  attempt?: number;
  /** What Temporal recorded of the previous attempt's last heartbeat. */
  heartbeatDetails?: unknown;
  /** Receives every heartbeat the activity sends. */
  onHeartbeat?: (details: unknown) => void;
}

/**
 * Runs `fn` as one attempt of an activity outside a Temporal worker, in the SDK's MockActivityEnvironment:
 * the attempt number, the last heartbeat Temporal recorded, every heartbeat the activity sends, and a
 * cancellation signal (never aborted here; tests that cancel use MockActivityEnvironment themselves).
 */
export function runAsActivity<T>(fn: () => Promise<T>, options: ActivityAttempt = {}): Promise<T> {
  const env = new MockActivityEnvironment(
    { attempt: options.attempt ?? 1, heartbeatDetails: options.heartbeatDetails },
    { logger: new DefaultLogger('ERROR') },
  );
  if (options.onHeartbeat !== undefined) env.on('heartbeat', options.onHeartbeat);
  return env.run<[], T, () => Promise<T>>(fn);
}
