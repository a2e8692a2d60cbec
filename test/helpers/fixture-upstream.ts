import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The one stand-in of our tests: an OpenAI-compatible inference server (`/v1/chat/completions`,
 * `/v1/completions`, `/v1/models`) that answers with an echo of the prompt, and whose latency and faults
 * are knobs. A request can also carry its own directive in a `fixture` field of its body.
 */

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
  /** Seed of the fault generator. */
  seed?: number;
  /** Requests it serves at once; beyond that it answers 429 with `retry-after-ms: 50`, as an overloaded server. */
  capacity?: number;
}

export interface FixtureUpstream {
  /** Base URL including `/v1`, as `UPSTREAM_BASE_URL` expects. */
  readonly baseUrl: string;
  readonly port: number;
  /** How many requests arrived (each attempt counts). */
  readonly requestCount: number;
  /** Requests in flight now, and the most seen at once. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** How many times each distinct request body arrived. */
  readonly seen: ReadonlyMap<string, number>;
  /** The headers of the last request. */
  readonly lastHeaders: IncomingMessage['headers'] | null;
  /** Answers by status code. */
  readonly statuses: ReadonlyMap<number, number>;
  setOptions(options: Partial<FixtureUpstreamOptions>): void;
  close(): Promise<void>;
}

export async function startFixtureUpstream(initial: FixtureUpstreamOptions = {}, port = 0): Promise<FixtureUpstream> {
  let options: FixtureUpstreamOptions = { ...initial };
  let random = mulberry32(options.seed ?? 1);
  let requestCount = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let lastHeaders: IncomingMessage['headers'] | null = null;
  const seen = new Map<string, number>();
  const statuses = new Map<number, number>();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    requestCount++;
    lastHeaders = req.headers;
    const url = req.url ?? '/';
    if (req.method === 'GET' && url === '/v1/models') {
      return json(res, 200, { object: 'list', data: [{ id: 'fixture-model', object: 'model', owned_by: 'fixture' }] });
    }
    const kind = url === '/v1/chat/completions' ? 'chat' : url === '/v1/completions' ? 'completion' : null;
    if (req.method !== 'POST' || kind === null) {
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
    const latency = (options.latencyMs ?? 0) + (directiveActive ? (directive.delay_ms ?? 0) : 0);
    if (latency > 0) await sleep(latency);

    if (directiveActive && directive.reset) return res.destroy();
    if (directiveActive && directive.status !== undefined && directive.status >= 400) {
      if (directive.retry_after !== undefined) res.setHeader('retry-after', String(directive.retry_after));
      return json(res, directive.status, errorBody(`Fixture error ${directive.status}`, errorType(directive.status)));
    }
    const faults = options.faults ?? {};
    const roll = random();
    let edge = 0;
    if (roll < (edge += faults.reset ?? 0)) return res.destroy();
    if (roll < (edge += faults.status500 ?? 0)) return json(res, 500, errorBody('Injected failure', 'server_error'));
    if (roll < (edge += faults.status429 ?? 0)) {
      res.setHeader('retry-after', String(options.retryAfterSeconds ?? 1));
      return json(res, 429, errorBody('Rate limit reached (injected)', 'rate_limit_error'));
    }
    const slow = roll < edge + (faults.slowBody ?? 0);

    if (typeof body.model !== 'string') {
      return json(res, 400, errorBody('you must provide a model parameter', 'invalid_request_error'));
    }
    const answer: Record<string, unknown> =
      kind === 'chat' ? chatAnswer(body, requestCount) : completionAnswer(body, requestCount);
    res.setHeader('x-request-id', `req_fixture_${requestCount}`);
    if (directiveActive && directive.body_bytes !== undefined) answer.padding = 'x'.repeat(directive.body_bytes);
    if (directiveActive && directive.drip_ms !== undefined) {
      const payload = Buffer.from(JSON.stringify(answer));
      res.writeHead(200, { 'content-type': 'application/json' });
      for (let i = 0; i < payload.length && !res.destroyed; i++) {
        res.write(payload.subarray(i, i + 1));
        await sleep(directive.drip_ms);
      }
      return res.end();
    }
    if (!slow) return json(res, 200, answer);
    // A slow body: headers at once, the JSON dribbled out in pieces.
    const payload = JSON.stringify(answer);
    res.writeHead(200, { 'content-type': 'application/json' });
    for (let i = 0; i < payload.length; i += Math.ceil(payload.length / 4)) {
      res.write(payload.slice(i, i + Math.ceil(payload.length / 4)));
      await sleep(50);
    }
    res.end();
  };

  const server: Server = createServer((req, res) => {
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
    seen,
    statuses,
    get lastHeaders() {
      return lastHeaders;
    },
    setOptions(next) {
      options = { ...options, ...next };
      if (next.seed !== undefined) random = mulberry32(next.seed);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The words of a text, as the fixture's stand-in for tokens. */
export function countTokens(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

function chatAnswer(body: Record<string, unknown>, n: number) {
  const messages = Array.isArray(body.messages) ? (body.messages as { content?: unknown }[]) : [];
  const prompt = messages.map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)));
  // A completion is short next to its prompt: the echo stops after 200 characters.
  const content = `echo: ${(prompt[prompt.length - 1] ?? '').slice(0, 200)}`;
  const promptTokens = countTokens(prompt.join(' '));
  const completionTokens = countTokens(content);
  return {
    id: `chatcmpl-fixture-${n}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: body.model,
    choices: [{ index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: 'stop' }],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    },
  };
}

function completionAnswer(body: Record<string, unknown>, n: number) {
  const prompt = typeof body.prompt === 'string' ? body.prompt : JSON.stringify(body.prompt ?? '');
  const text = `echo: ${prompt.slice(0, 200)}`;
  const promptTokens = countTokens(prompt);
  const completionTokens = countTokens(text);
  return {
    id: `cmpl-fixture-${n}`,
    object: 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model: body.model,
    choices: [{ index: 0, text, logprobs: null, finish_reason: 'stop' }],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    },
  };
}

function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

function errorBody(message: string, type: string, code: string | null = null) {
  return { error: { message, type, param: null, code } };
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A small seeded PRNG, so injected faults are the same on every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
