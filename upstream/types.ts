import type { Claimant } from './fair-limiter';
import type { Stopper } from './stopper';

/** What the upstream port takes and gives: a batch line's request, and what became of it. */

export interface UpstreamRequest {
  /** The line's `body.model`, which picks the route. */
  model: string;
  /** The line's url, e.g. `/v1/chat/completions`; `/v1` is replaced by the upstream base URL. */
  url: string;
  /** The JSON text of the line's `body`. */
  body: string;
  /** Who is waiting (the batch id): slots are shared fairly between keys. */
  fairnessKey: string;
  /** Among requests of one key, lower goes first (the chunk index). */
  priority?: number;
  /** Who waits for a slot, for the limiter's order (absent: the batch `fairnessKey`, chunk `priority`). */
  claimant?: Claimant;
  /** No attempt starts, and no backoff waits, past this time (epoch ms). */
  deadlineMs: number;
  /** Stops the request (cancel, deadline, shutdown): the result is then `aborted`. */
  stopper: Stopper;
}

/** What became of one request after all its attempts. */
export type UpstreamResult =
  /** An HTTP answer: 2xx is a success; anything else is final for this request (error-file line). */
  | { kind: 'response'; status: number; requestId: string; bodyText: string }
  /** No HTTP answer: timeouts and broken connections, after retries. */
  | { kind: 'failure'; code: string; message: string }
  /** The upstream refused connections on every attempt: the whole chunk should back off and resume later. */
  | { kind: 'unreachable'; message: string }
  /** Stopped by the caller before an answer arrived: the request did not run. */
  | { kind: 'aborted' };

/** Told about every attempt's outcome: the upstream, the HTTP status (or 'error'), the seconds it took. */
export type UpstreamObserver = (baseUrl: string, status: number | 'error', seconds: number) => void;
