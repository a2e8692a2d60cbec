import type { RequestHandler } from 'express';
import { RateLimitError } from './errors';

/**
 * A sliding-window limit per tenant: at most `limit` requests in any `windowMs`. Each tenant keeps the
 * times of its last `limit` requests in a ring, so a request is allowed when the oldest of them has left
 * the window. The count is per API process (run several and the limit is per process).
 */
export class SlidingWindowLimiter {
  private readonly rings = new Map<string, { times: Float64Array; next: number; last: number }>();
  private calls = 0;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  /** Records a request of `key` at `now` if allowed; otherwise says in how many ms the next one is. */
  take(key: string, now = Date.now()): { ok: true } | { ok: false; retryAfterMs: number } {
    if (++this.calls % 1000 === 0) this.sweep(now);
    let ring = this.rings.get(key);
    if (ring === undefined) {
      ring = { times: new Float64Array(this.limit).fill(-Infinity), next: 0, last: now };
      this.rings.set(key, ring);
    }
    // The slot to overwrite holds the oldest of the last `limit` requests.
    const oldest = ring.times[ring.next];
    if (oldest > now - this.windowMs) return { ok: false, retryAfterMs: oldest + this.windowMs - now };
    ring.times[ring.next] = now;
    ring.next = (ring.next + 1) % this.limit;
    ring.last = now;
    return { ok: true };
  }

  /** Forgets tenants with no request in the window, so idle keys hold no memory. */
  private sweep(now: number): void {
    for (const [key, ring] of this.rings) if (ring.last <= now - this.windowMs) this.rings.delete(key);
  }
}

/** Limits batch creation per API key (OpenAI: 2,000 an hour); `perHour` 0 turns it off. */
export function batchCreateRateLimit(perHour: number): RequestHandler {
  if (perHour === 0) return (_req, _res, next) => next();
  const limiter = new SlidingWindowLimiter(perHour, 3_600_000);
  return (_req, res, next) => {
    const taken = limiter.take(res.locals.owner);
    if (!taken.ok) {
      const seconds = Math.max(1, Math.ceil(taken.retryAfterMs / 1000));
      const err = new RateLimitError(
        `Rate limit reached for batch creation: at most ${perHour} batches per hour for this API key. Try again in ${seconds}s.`,
        null,
        'rate_limit_exceeded',
      );
      err.headers['retry-after'] = String(seconds);
      throw err;
    }
    next();
  };
}
