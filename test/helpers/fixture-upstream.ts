import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answer, errorBody, FIXTURE_ENDPOINTS, mulberry32 } from './fixture-answers';
import type { FixtureEndpoint } from './fixture-answers';
import { CapacityModel } from './fixture-capacity';
import type { FixtureDepthSample, FixtureRequestRecord, FixtureStats } from './fixture-capacity';

/**
 * The one stand-in of our tests: an OpenAI-compatible inference server for the five endpoints OpenAI
 * batches (`/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/v1/responses`, `/v1/moderations`)
 * plus `/v1/models`, answering with an echo of the prompt, and whose latency, faults and capacity are knobs.
 * A request can also carry its own directive in a `fixture` field of its body. `GET /fixture/stats` answers
 * {@link FixtureUpstream.stats} (`?detail=true` adds every request and depth sample) and
 * `POST /fixture/stats/reset` calls {@link FixtureUpstream.resetStats}, for the fixture in its own process.
 */

export { countTokens, FIXTURE_ENDPOINTS } from './fixture-answers';
export type { FixtureEndpoint } from './fixture-answers';
export type {
  FixtureDepthSample,
  FixtureRequestOutcome,
  FixtureRequestRecord,
  FixtureStats,
  FixtureSummary,
} from './fixture-capacity';

/** Per-request directive, sent inside the request body as `"fixture": {...}`. */
export interface FixtureDirective {
  /** Answer with this status and an OpenAI error body (for 4xx/5xx). */
  status?: number;
  /** Only for the first N times this exact request arrives; afterwards answer normally. */
  times?: number;
  /** Extra latency for this request. */
  delay_ms?: number;
  /** Destroy the connection instead of answering. */
  reset?: boolean;
  /** `Retry-After` seconds to send with a 429/503. */
  retry_after?: number;
  /** Send the answer's headers at once, then its body one byte every this many ms (a dripping server). */
  drip_ms?: number;
  /** Pad the answer's body to at least this many bytes (an extra `padding` field). */
  body_bytes?: number;
  /** This request's service time in its slot, in place of `serviceMs` (no jitter). */
  service_ms?: number;
  /** A label that names this request in {@link FixtureUpstream.requests}. */
  tag?: string;
}

export interface FixtureUpstreamOptions {
  /** Latency of every answer, in ms. */
  latencyMs?: number;
  /** Require `Authorization: Bearer <apiKey>` when set. */
  apiKey?: string;
  /** Probabilities of faults per request (seeded, reproducible). */
  faults?: { status500?: number; status429?: number; reset?: number; slowBody?: number };
  /** `Retry-After` seconds sent with injected 429s. */
  retryAfterSeconds?: number;
  /** Seed of the fault and service-time generators. */
  seed?: number;
  /** Requests it serves at once; beyond that it answers 429 with `retry-after-ms: 50`, as an overloaded server. */
  capacity?: number;
  /**
   * Requests served at once, as vLLM's or llama.cpp's slots: the rest wait in a FIFO queue (never a 429).
   * A client that hangs up leaves the queue, or frees its slot, at once. Unset: no limit. 0: nothing is
   * served until `setOptions` raises it.
   */
  slots?: number;
  /** Time each request holds its slot, ±10% seeded jitter, before latencyMs and delay_ms (also in the slot). */
  serviceMs?: number;
  /** The POST endpoints it serves (default all five); the others answer 404, as a server without the route. */
  endpoints?: readonly FixtureEndpoint[];
  /**
   * Model ids `GET /v1/models` lists, and the only ones it serves (another model is 404 `model_not_found`);
   * null (the default): `/v1/models` answers 404, as a server without a model list, so that validation
   * refuses no model for it, and any model is served.
   */
  models?: readonly string[] | null;
  /** Length of embedding vectors when a request names no `dimensions` (default 8). */
  embeddingDimensions?: number;
  /**
   * Serve `GET /metrics` as vLLM does (`vllm:num_requests_waiting`, `vllm:num_requests_running` from the
   * capacity model); off (the default): 404, as a server without metrics.
   */
  metrics?: boolean;
}

export interface FixtureUpstream {
  /** Base URL including `/v1`, as `UPSTREAM_BASE_URL` expects. */
  readonly baseUrl: string;
  readonly port: number;
  /** How many requests arrived (each attempt counts). */
  readonly requestCount: number;
  /** HTTP requests open now (queued ones included), and the most seen at once. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** Requests waiting for a slot now, and holding one now. */
  readonly queued: number;
  readonly serving: number;
  /** How many times each distinct request body arrived. */
  readonly seen: ReadonlyMap<string, number>;
  /** The headers of the last request. */
  readonly lastHeaders: IncomingMessage['headers'] | null;
  /** Answers by status code. */
  readonly statuses: ReadonlyMap<number, number>;
  /** Every POST to an endpoint since the start or `resetStats()`, in order of arrival, with its fate. */
  readonly requests: readonly FixtureRequestRecord[];
  /** Queue waits (ms) of the requests that got a slot, in order of arrival. */
  readonly queueWaits: readonly number[];
  /** serving + queued every 20 ms while anything is serving or queued. */
  readonly depthSamples: readonly FixtureDepthSample[];
  /** Counts, times, and the summaries (count, mean, p50, p95, max) of queue waits and depth. */
  stats(): FixtureStats;
  /** Forgets requests, samples and maxima (requests in flight stay); between phases of a bench. */
  resetStats(): void;
  setOptions(options: Partial<FixtureUpstreamOptions>): void;
  close(): Promise<void>;
}

/** A fixed `created` for the listed models, so answers are the same on every run. */
const MODELS_CREATED = 1_700_000_000;

export async function startFixtureUpstream(initial: FixtureUpstreamOptions = {}, port = 0): Promise<FixtureUpstream> {
  let options: FixtureUpstreamOptions = { ...initial };
  let random = mulberry32(options.seed ?? 1);
  // Its own generator, so service times do not shift the fault rolls of a seed.
  let serviceRandom = mulberry32((options.seed ?? 1) ^ 0x5eed);
  let requestCount = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let lastHeaders: IncomingMessage['headers'] | null = null;
  const seen = new Map<string, number>();
  const statuses = new Map<number, number>();
  const capacity = new CapacityModel(options.slots);

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const n = ++requestCount;
    lastHeaders = req.headers;
    const url = req.url ?? '/';
    const path = url.split('?')[0];
    if (req.method === 'GET' && (path === '/v1/models' || path.startsWith('/v1/models/'))) {
      return models(res, path, options.models ?? null);
    }
    const endpoint = FIXTURE_ENDPOINTS.find((e) => e === path && (options.endpoints ?? FIXTURE_ENDPOINTS).includes(e));
    if (req.method !== 'POST' || endpoint === undefined) {
      return json(res, 404, errorBody(`Unknown route ${req.method} ${url}`, 'invalid_request_error'));
    }
    if (options.capacity !== undefined && inFlight > options.capacity) {
      res.setHeader('retry-after-ms', '50');
      return json(res, 429, errorBody('The server is overloaded (fixture capacity).', 'rate_limit_error'));
    }
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return json(res, 401, errorBody('Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key'));
    }
    const text = await readBody(req);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return json(res, 400, errorBody('We could not parse the JSON body of your request.', 'invalid_request_error'));
    }
    const count = (seen.get(text) ?? 0) + 1;
    seen.set(text, count);

    const directive = (body.fixture ?? {}) as FixtureDirective;
    const directiveActive = directive.times === undefined || count <= directive.times;
    const ticket = capacity.arrive(endpoint, typeof directive.tag === 'string' ? directive.tag : null, res);
    if (ticket.waiting !== null && !(await ticket.waiting)) return;
    const serviceMs =
      directiveActive && directive.service_ms !== undefined
        ? directive.service_ms
        : options.serviceMs
          ? options.serviceMs * (0.9 + 0.2 * serviceRandom())
          : 0;
    const latency = serviceMs + (options.latencyMs ?? 0) + (directiveActive ? (directive.delay_ms ?? 0) : 0);
    // A client that hangs up ends the wait too.
    if (latency > 0) await ticket.sleep(latency);
    if (ticket.abandoned) return;

    const reset = () => {
      ticket.reset = true;
      res.destroy();
    };
    if (directiveActive && directive.reset) return reset();
    if (directiveActive && directive.status !== undefined && directive.status >= 400) {
      if (directive.retry_after !== undefined) res.setHeader('retry-after', String(directive.retry_after));
      return json(res, directive.status, errorBody(`Fixture error ${directive.status}`, errorType(directive.status)));
    }
    const faults = options.faults ?? {};
    const roll = random();
    let edge = 0;
    if (roll < (edge += faults.reset ?? 0)) return reset();
    if (roll < (edge += faults.status500 ?? 0)) return json(res, 500, errorBody('Injected failure', 'server_error'));
    if (roll < (edge += faults.status429 ?? 0)) {
      res.setHeader('retry-after', String(options.retryAfterSeconds ?? 1));
      return json(res, 429, errorBody('Rate limit reached (injected)', 'rate_limit_error'));
    }
    const slow = roll < edge + (faults.slowBody ?? 0);

    // Moderation is the one endpoint where OpenAI defaults the model.
    if (typeof body.model !== 'string' && endpoint !== '/v1/moderations') {
      return json(res, 400, errorBody('you must provide a model parameter', 'invalid_request_error'));
    }
    // With a model list, a model not on it is unknown, as vLLM and OpenAI answer it.
    const listed = options.models ?? null;
    if (listed !== null && typeof body.model === 'string' && !listed.includes(body.model)) {
      const message = `The model '${body.model}' does not exist`;
      return json(res, 404, errorBody(message, 'invalid_request_error', 'model_not_found', 'model'));
    }
    const reply = answer(endpoint, body, { n, embeddingDimensions: options.embeddingDimensions ?? 8 });
    res.setHeader('x-request-id', `req_fixture_${n}`);
    if (reply.status === 200 && directiveActive && directive.body_bytes !== undefined) {
      (reply.body as Record<string, unknown>).padding = 'x'.repeat(directive.body_bytes);
    }
    if (reply.status === 200 && directiveActive && directive.drip_ms !== undefined) {
      const payload = Buffer.from(JSON.stringify(reply.body));
      res.writeHead(200, { 'content-type': 'application/json' });
      for (let i = 0; i < payload.length && !ticket.abandoned && !res.destroyed; i++) {
        res.write(payload.subarray(i, i + 1));
        await ticket.sleep(directive.drip_ms);
      }
      return res.end();
    }
    if (!slow || reply.status !== 200) return json(res, reply.status, reply.body);
    // A slow body: headers at once, the JSON dribbled out in pieces.
    const payload = JSON.stringify(reply.body);
    res.writeHead(200, { 'content-type': 'application/json' });
    for (let i = 0; i < payload.length; i += Math.ceil(payload.length / 4)) {
      if (ticket.abandoned) return;
      res.write(payload.slice(i, i + Math.ceil(payload.length / 4)));
      await ticket.sleep(50);
    }
    res.end();
  };

  const control = (req: IncomingMessage, res: ServerResponse): boolean => {
    const [path, query = ''] = (req.url ?? '/').split('?');
    if (req.method === 'GET' && path === '/fixture/stats') {
      const detail = new URLSearchParams(query).get('detail') === 'true';
      const stats = capacity.stats();
      json(res, 200, detail ? { ...stats, requests: capacity.requests, depthSamples: capacity.depthSamples } : stats);
      return true;
    }
    if (req.method === 'GET' && path === '/metrics' && options.metrics) {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(vllmMetrics(capacity.queued, capacity.inService));
      return true;
    }
    if (req.method === 'POST' && path === '/fixture/stats/reset') {
      capacity.reset();
      res.writeHead(204).end();
      return true;
    }
    return false;
  };

  const server: Server = createServer((req, res) => {
    // The stats routes are the bench's, not traffic: they count nowhere.
    if (control(req, res)) return;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.once('close', () => {
      inFlight--;
      if (res.headersSent) statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    });
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, errorBody(String(err), 'server_error'));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actualPort = (server.address() as AddressInfo).port;

  return {
    baseUrl: `http://127.0.0.1:${actualPort}/v1`,
    port: actualPort,
    get requestCount() {
      return requestCount;
    },
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    get queued() {
      return capacity.queued;
    },
    get serving() {
      return capacity.inService;
    },
    seen,
    statuses,
    get lastHeaders() {
      return lastHeaders;
    },
    get requests() {
      return capacity.requests;
    },
    get queueWaits() {
      return capacity.queueWaits;
    },
    get depthSamples() {
      return capacity.depthSamples;
    },
    stats: () => capacity.stats(),
    resetStats: () => capacity.reset(),
    setOptions(next) {
      options = { ...options, ...next };
      if (next.seed !== undefined) {
        random = mulberry32(next.seed);
        serviceRandom = mulberry32(next.seed ^ 0x5eed);
      }
      if ('slots' in next) capacity.setSlots(options.slots);
    },
    close: () =>
      new Promise<void>((resolve) => {
        capacity.stop();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** `GET /v1/models` and `GET /v1/models/{id}` in OpenAI's shapes; null models: the routes do not exist. */
function models(res: ServerResponse, path: string, ids: readonly string[] | null): void {
  if (ids === null) return json(res, 404, errorBody(`Unknown route GET ${path}`, 'invalid_request_error'));
  const model = (id: string) => ({ id, object: 'model', created: MODELS_CREATED, owned_by: 'fixture' });
  if (path === '/v1/models') return json(res, 200, { object: 'list', data: ids.map(model) });
  const id = decodeURIComponent(path.slice('/v1/models/'.length));
  if (ids.includes(id)) return json(res, 200, model(id));
  json(res, 404, errorBody(`The model '${id}' does not exist`, 'invalid_request_error', 'model_not_found', 'model'));
}

/** The two scheduler gauges of vLLM's `/metrics`, in its format. */
function vllmMetrics(waiting: number, running: number): string {
  const labels = '{engine="0",model_name="fixture-model"}';
  return [
    '# HELP vllm:num_requests_running Number of requests in model execution batches.',
    '# TYPE vllm:num_requests_running gauge',
    `vllm:num_requests_running${labels} ${running.toFixed(1)}`,
    '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.',
    '# TYPE vllm:num_requests_waiting gauge',
    `vllm:num_requests_waiting${labels} ${waiting.toFixed(1)}`,
    '',
  ].join('\n');
}

function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts).toString('utf8');
}
