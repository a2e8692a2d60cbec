import { randomBytes } from 'node:crypto';
import { Agent } from 'undici';
import type { UpstreamTarget } from '../config';
import { Aimd } from './aimd';
import { FairLimiter } from './fair-limiter';
import type { Release } from './fair-limiter';
import { post, ResponseTooLargeError } from './http-post';
import type { Stopper } from './stopper';
import { sleepUnlessStopped } from './stopper';

/** The upstream part of the configuration this client needs. */
export interface UpstreamClientConfig {
  default: UpstreamTarget | null;
  routes: Readonly<Record<string, UpstreamTarget>>;
  /** Deadline of one attempt, from sending to the last byte of the answer. */
  timeoutMs: number;
  /** Largest answer body accepted from an upstream. */
  maxResponseBytes: number;
  maxAttempts: number;
}

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

/**
 * A slot of one upstream's concurrency, held across requests by one {@link Sender}. Releasing an empty slot
 * is harmless.
 */
class Slot {
  private route: Route | null = null;
  private releaseFn: Release | null = null;

  get held(): boolean {
    return this.releaseFn !== null;
  }

  release(): void {
    this.take(this.route)?.();
  }

  /** The slot's release if it is held for `route`; the slot is then empty. */
  take(route: Route | null): Release | null {
    if (this.route !== route) return null;
    const release = this.releaseFn;
    this.route = null;
    this.releaseFn = null;
    return release;
  }

  fill(route: Route, release: Release): void {
    this.release();
    this.route = route;
    this.releaseFn = release;
  }

  routeHeld(): Route | null {
    return this.route;
  }
}

const RETRYABLE_STATUS = new Set([408, 409, 429]);
/** Answers that mean "too much load": the route's concurrency backs off. */
const OVERLOAD_STATUS = new Set([429, 503]);
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;

interface Route {
  target: UpstreamTarget;
  agent: Agent;
  limiter: FairLimiter;
  aimd: Aimd;
  /** The same for every request: built once. */
  headers: Record<string, string>;
  /** Upstream URL by line url (`/v1/chat/completions` → `${baseUrl}/chat/completions`). */
  urls: Map<string, URL>;
}

/**
 * Sends batch lines to OpenAI-compatible upstreams. Each upstream has a connection pool and a fair
 * concurrency cap shared by every batch of this worker. 408, 409, 429, 5xx, timeouts and connection errors
 * are retried with exponential backoff and jitter, honouring `Retry-After`, while the deadline allows;
 * other answers are returned as they are.
 */
/** Told about every attempt's outcome: the upstream, the HTTP status (or 'error'), the seconds it took. */
export type UpstreamObserver = (baseUrl: string, status: number | 'error', seconds: number) => void;

/** Who sends through a {@link Sender}, fixed for its life. */
export interface SenderOptions {
  /** The batch id: slots are shared fairly between keys. */
  fairnessKey: string;
  /** Among requests of one key, lower goes first (the chunk index). */
  priority: number;
  /** No attempt starts, and no backoff waits, past this time (epoch ms). */
  deadlineMs: number;
  /** Stops waiting and requests in flight (cancel, deadline, shutdown). */
  stopper: Stopper;
}

/**
 * One sending loop's handle on the upstream. The loop asks for a slot before it reads its next line
 * ({@link Sender.tryReady}, else {@link Sender.waitReady}), so a request waiting its turn is a place in a
 * queue, not a line read, parsed and held in memory; then it sends. The slot stays with the sender for the
 * next line while nobody more deserving waits: a slot kept costs nothing, one released and taken again
 * costs a queue entry and a promise per request.
 */
export class Sender {
  private readonly slot = new Slot();

  constructor(
    private readonly options: SenderOptions,
    private readonly routeFor: (model: string | null) => Route | null,
    private readonly sendOn: (req: UpstreamRequest, slot: Slot) => Promise<UpstreamResult>,
  ) {}

  /** Holds a slot for a request to `model`'s upstream now (kept, or free and nobody waiting); no promise. */
  tryReady(model: string | null): boolean {
    const { slot, options } = this;
    const held = slot.routeHeld();
    if (held !== null && !held.limiter.mayKeep(options.fairnessKey, options.priority)) slot.release();
    if (slot.held) return true;
    const route = this.routeFor(model);
    const release = route?.limiter.tryAcquire() ?? null;
    if (release === null) return false;
    slot.fill(route as Route, release);
    return true;
  }

  /** Waits for a slot of `model`'s upstream in the fair order of {@link FairLimiter}; false when stopped first. */
  async waitReady(model: string | null): Promise<boolean> {
    const route = this.routeFor(model);
    if (route === null) return false;
    const { fairnessKey, stopper, priority } = this.options;
    try {
      this.slot.fill(route, await route.limiter.acquire(fairnessKey, stopper, priority));
      return true;
    } catch {
      return false;
    }
  }

  /** Sends one request with its retries, its first attempt on the slot held. */
  send(model: string, url: string, body: string): Promise<UpstreamResult> {
    const { fairnessKey, priority, deadlineMs, stopper } = this.options;
    return this.sendOn({ model, url, body, fairnessKey, priority, deadlineMs, stopper }, this.slot);
  }

  /** Gives the slot back; the sender may be used again, or dropped. */
  close(): void {
    this.slot.release();
  }
}

export class UpstreamClient {
  private readonly defaultRoute: Route | null;
  private readonly routes = new Map<string, Route>();
  private observer: UpstreamObserver = () => undefined;

  constructor(private readonly config: UpstreamClientConfig) {
    this.defaultRoute = config.default ? makeRoute(config.default) : null;
    for (const [model, target] of Object.entries(config.routes)) this.routes.set(model, makeRoute(target));
  }

  /**
   * A sending loop's handle: it sends requests of one batch (`fairnessKey`, and `priority` among that batch's
   * chunks) and keeps its concurrency slot between them while nobody more deserving waits. Close it when the
   * loop ends.
   */
  sender(options: SenderOptions): Sender {
    return new Sender(
      options,
      (model) => this.routeFor(model),
      (req, slot) => this.sendOn(req, slot),
    );
  }

  /** Sends one request, with its retries (each attempt waits for a slot of its upstream). */
  send(req: UpstreamRequest): Promise<UpstreamResult> {
    return this.sendOn(req, undefined);
  }

  /**
   * Sends one request, with its retries. A slot held for the request's upstream is used for its first
   * attempt (one held for another upstream is released). When the request ends with an answer, the slot of
   * its last attempt is left in `slot` for the sender's next request; otherwise `slot` is left empty.
   */
  private sendOn(req: UpstreamRequest, slot: Slot | undefined): Promise<UpstreamResult> {
    const route = this.routes.get(req.model) ?? this.defaultRoute;
    if (slot !== undefined && (route === null || slot.routeHeld() !== route)) slot.release();
    if (route === null) {
      return Promise.resolve({
        kind: 'response',
        status: 404,
        requestId: newRequestId(),
        bodyText: JSON.stringify({
          error: {
            message: `The model '${req.model}' is not served by this deployment.`,
            type: 'invalid_request_error',
            param: 'model',
            code: 'model_not_found',
          },
        }),
      });
    }
    let url = route.urls.get(req.url);
    if (url === undefined) {
      url = new URL(route.target.baseUrl + req.url.replace(/^\/v1(?=\/)/, ''));
      route.urls.set(req.url, url);
    }
    return this.attempts(req, route, url, route.headers, req.stopper, slot);
  }

  private async attempts(
    req: UpstreamRequest,
    route: Route,
    url: URL,
    headers: Record<string, string>,
    stopper: Stopper,
    slot: Slot | undefined,
  ): Promise<UpstreamResult> {
    let last: UpstreamResult = { kind: 'failure', code: 'request_timeout', message: 'The request was not sent.' };
    for (let attempt = 1; attempt <= this.config.maxAttempts; attempt++) {
      if (stopper.stopped) return { kind: 'aborted' };
      let release = slot?.take(route) ?? route.limiter.tryAcquire();
      if (release === null) {
        try {
          release = await route.limiter.acquire(req.fairnessKey, stopper, req.priority);
        } catch {
          return { kind: 'aborted' };
        }
      }
      let retryAfter: number | null = null;
      let answered = false;
      const sentAt = Date.now();
      try {
        // The timeout bounds the whole attempt: a non-streaming completion sends its headers only when
        // generation is done, and a body that drips must not hold the slot past it.
        const res = await post(route.agent, url, {
          headers,
          body: req.body,
          stopper,
          timeoutMs: this.config.timeoutMs,
          maxResponseBytes: this.config.maxResponseBytes,
        });
        const { bodyText } = res;
        this.observer(route.target.baseUrl, res.statusCode, (Date.now() - sentAt) / 1000);
        const requestId = headerValue(res.headers['x-request-id']) ?? newRequestId();
        last = { kind: 'response', status: res.statusCode, requestId, bodyText };
        if (OVERLOAD_STATUS.has(res.statusCode)) route.aimd.overload(sentAt);
        else route.aimd.success();
        answered = !RETRYABLE_STATUS.has(res.statusCode) && res.statusCode < 500;
        if (answered) return last;
        retryAfter = parseRetryAfter(res.headers);
      } catch (err) {
        if (stopper.stopped) return { kind: 'aborted' };
        this.observer(route.target.baseUrl, 'error', (Date.now() - sentAt) / 1000);
        last = classifyError(err);
        // The same request would get the same answer again.
        if (err instanceof ResponseTooLargeError) return last;
      } finally {
        // The slot goes back to the caller for its next request; between attempts it is free to others.
        if (answered && slot !== undefined) slot.fill(route, release);
        else release();
      }
      if (attempt === this.config.maxAttempts) break;
      const delay = retryAfter ?? backoff(attempt);
      if (Date.now() + delay >= req.deadlineMs) break;
      if (!(await sleepUnlessStopped(delay, stopper))) return { kind: 'aborted' };
    }
    return last;
  }

  /** The upstream of `model`: its route, else the default upstream, else (no model yet) any route. */
  private routeFor(model: string | null): Route | null {
    return (
      (model === null ? null : this.routes.get(model)) ?? this.defaultRoute ?? this.routes.values().next().value ?? null
    );
  }

  /** Registers the observer of every attempt (metrics). */
  observe(observer: UpstreamObserver): void {
    this.observer = observer;
  }

  /** The most requests any one upstream may have in flight. */
  get maxConcurrency(): number {
    let max = this.defaultRoute?.target.maxConcurrency ?? 1;
    for (const r of this.routes.values()) max = Math.max(max, r.target.maxConcurrency);
    return max;
  }

  /** Each upstream's current concurrency limit (it backs off below the configured cap on 429 and 503). */
  limits(): { baseUrl: string; limit: number; inFlight: number }[] {
    const all = [...this.routes.values()];
    if (this.defaultRoute) all.push(this.defaultRoute);
    return all.map((r) => ({ baseUrl: r.target.baseUrl, limit: r.limiter.currentLimit, inFlight: r.limiter.inFlight }));
  }

  /** Closes every connection pool. */
  async close(): Promise<void> {
    const all = [...this.routes.values()];
    if (this.defaultRoute) all.push(this.defaultRoute);
    await Promise.all(all.map((r) => r.agent.close()));
  }
}

function makeRoute(target: UpstreamTarget): Route {
  const limiter = new FairLimiter(target.maxConcurrency);
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (target.apiKey) headers.authorization = `Bearer ${target.apiKey}`;
  return {
    target,
    headers,
    urls: new Map(),
    agent: new Agent({ connections: target.maxConcurrency, keepAliveTimeout: 30_000, pipelining: 1 }),
    limiter,
    aimd: new Aimd(target.maxConcurrency, (limit) => limiter.setLimit(limit)),
  };
}

function classifyError(err: unknown): UpstreamResult {
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
function backoff(attempt: number): number {
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

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function newRequestId(): string {
  return `req_${randomBytes(12).toString('hex')}`;
}
