import { randomBytes } from 'node:crypto';
import { ResponseTooLargeError } from './http-post';
import type { UpstreamResult } from './types';

/** How the upstream client treats answers and errors: what is retried, how long it waits, what it reports. */

export const RETRYABLE_STATUS = new Set([408, 409, 429]);
/** Answers that mean "too much load": the route's concurrency backs off. */
export const OVERLOAD_STATUS = new Set([429, 503]);
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;

export function classifyError(err: unknown): UpstreamResult {
  if (err instanceof ResponseTooLargeError) {
    return {
      kind: 'failure',
      code: 'response_too_large',
      message: `The model's answer was larger than ${err.limit} bytes (UPSTREAM_MAX_RESPONSE_BYTES).`,
    };
  }
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  if (code !== undefined && UNREACHABLE_CODES.has(code)) {
    return { kind: 'unreachable', message: `The upstream refused the connection (${code}).` };
  }
  if (e.name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return { kind: 'failure', code: 'request_timeout', message: 'The underlying call to the model timed out.' };
  }
  return {
    kind: 'failure',
    code: 'upstream_error',
    message: `The connection to the model failed: ${code ?? e.message ?? 'unknown error'}.`,
  };
}

/** Exponential backoff with jitter: attempt 1 waits 250–500 ms, doubling up to 15–30 s. */
export function backoff(attempt: number): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** `retry-after-ms`, or `retry-after` in seconds or as an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(headers: Record<string, string | string[] | undefined>): number | null {
  const ms = Number(headerValue(headers['retry-after-ms']));
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headerValue(headers['retry-after']);
  if (value === undefined) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}

export function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export function newRequestId(): string {
  return `req_${randomBytes(12).toString('hex')}`;
}
