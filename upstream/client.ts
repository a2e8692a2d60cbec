import { Agent } from 'undici';
import type { UpstreamTarget } from '../config';
import type { Logger } from '../telemetry/logger';
import { endpointCall } from './endpoint-call';
import type { FairLimiter } from './fair-limiter';
import { post, ResponseTooLargeError } from './http-post';
import { backoff, classifyError, headerValue, newRequestId, parseRetryAfter, RETRYABLE_STATUS } from './retry-policy';
import { Sender } from './sender';
import type { SenderOptions, Slot } from './sender';
import type { Stopper } from './stopper';
import { sleepUnlessStopped } from './stopper';
import type { UpstreamObserver, UpstreamRequest, UpstreamResult } from './types';
import { outcomeOfStatus, UpstreamConcurrency } from './upstream-concurrency';
import type { ConcurrencyState } from './upstream-concurrency';

export type { UpstreamObserver, UpstreamRequest, UpstreamResult } from './types';
export type { Sender, SenderOptions } from './sender';
export { parseRetryAfter } from './retry-policy';

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

interface Route {
  /** The model name of a MODEL_ROUTES route; '' for the default upstream. */
  name: string;
  target: UpstreamTarget;
  agent: Agent;
  limiter: FairLimiter;
  /** The adaptive limit of its concurrency, its signals, and this worker's share of the upstream's ceiling. */
  concurrency: UpstreamConcurrency;
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
export class UpstreamClient {
  private readonly defaultRoute: Route | null;
  private readonly routes = new Map<string, Route>();
  private observer: UpstreamObserver = () => undefined;

  constructor(
    private readonly config: UpstreamClientConfig,
    deps: { logger?: Logger } = {},
  ) {
    this.defaultRoute = config.default ? makeRoute('', config.default, deps.logger) : null;
    for (const [model, target] of Object.entries(config.routes)) {
      this.routes.set(model, makeRoute(model, target, deps.logger));
    }
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
    // The line's endpoint on this upstream: its path and body (translated for some), and its answer.
    const call = endpointCall(req, route.target);
    if (!('finish' in call)) {
      slot?.release();
      return Promise.resolve(call);
    }
    let url = route.urls.get(call.url);
    if (url === undefined) {
      url = new URL(route.target.baseUrl + call.url.replace(/^\/v1(?=\/)/, ''));
      route.urls.set(call.url, url);
    }
    const sent = call.body === req.body ? req : { ...req, body: call.body };
    return this.attempts(sent, route, url, route.headers, req.stopper, slot).then(call.finish);
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
      const claimant = req.claimant ?? { batch: req.fairnessKey, chunk: req.priority };
      let release = slot?.take(route) ?? route.limiter.tryAcquire(claimant);
      if (release === null) {
        try {
          release = await route.limiter.acquire(claimant, stopper);
        } catch {
          return { kind: 'aborted' };
        }
      }
      const mark = route.concurrency.sending();
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
        route.concurrency.ended(mark, outcomeOfStatus(res.statusCode));
        answered = !RETRYABLE_STATUS.has(res.statusCode) && res.statusCode < 500;
        if (answered) return last;
        retryAfter = parseRetryAfter(res.headers);
      } catch (err) {
        if (stopper.stopped) return { kind: 'aborted' };
        this.observer(route.target.baseUrl, 'error', (Date.now() - sentAt) / 1000);
        last = classifyError(err);
        route.concurrency.ended(mark, last.kind === 'failure' && last.code === 'request_timeout' ? 'timeout' : 'other');
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

  /** Each upstream's adaptive concurrency limit, requests in flight, and the signals the limit follows. */
  limits(): ({ baseUrl: string } & ConcurrencyState)[] {
    return this.allRoutes().map((r) => ({ baseUrl: r.target.baseUrl, ...r.concurrency.state() }));
  }

  /** What each upstream wants of its cross-worker budget: its name, ceiling, and whether it has work. */
  budgetDemand(): {
    route: string;
    baseUrl: string;
    ceiling: number;
    busy: boolean;
    inFlight: number;
    limit: number;
  }[] {
    return this.allRoutes().map((r) => ({
      route: r.name,
      baseUrl: r.target.baseUrl,
      ceiling: r.target.maxConcurrency,
      busy: r.limiter.inFlight > 0 || r.limiter.hasWaiters,
      inFlight: r.limiter.inFlight,
      limit: r.concurrency.state().limit,
    }));
  }

  /** Sets this worker's share of an upstream's ceiling (the cross-worker budget); its limit stays within it. */
  setShare(route: string, share: number): void {
    const r = route === '' ? this.defaultRoute : this.routes.get(route);
    if (r === null || r === undefined) return;
    r.concurrency.setShare(share);
  }

  private allRoutes(): Route[] {
    return [...this.routes.values(), ...(this.defaultRoute ? [this.defaultRoute] : [])];
  }

  /** Closes every connection pool, and stops reading the upstreams' metrics. */
  async close(): Promise<void> {
    const all = this.allRoutes();
    for (const r of all) r.concurrency.close();
    await Promise.all(all.map((r) => r.agent.close()));
  }
}

function makeRoute(name: string, target: UpstreamTarget, logger: Logger | undefined): Route {
  const concurrency = new UpstreamConcurrency(target, logger);
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (target.apiKey) headers.authorization = `Bearer ${target.apiKey}`;
  return {
    name,
    target,
    headers,
    urls: new Map(),
    agent: new Agent({ connections: target.maxConcurrency, keepAliveTimeout: 30_000, pipelining: 1 }),
    limiter: concurrency.limiter,
    concurrency,
  };
}
