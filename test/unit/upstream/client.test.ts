/**
 * Pins DESIGN.md §4 against the fixture upstream: URL mapping, retries of 408/409/429/5xx and broken
 * connections with Retry-After honoured, other 4xx final, the deadline, the adaptive concurrency limit (its
 * start, ceiling, back-off on 429/503/timeouts, the server's metrics) and model routes.
 */
import { createServer } from 'node:net';
import { parseRetryAfter, UpstreamClient } from '../../../upstream/client';
import type { UpstreamClientConfig } from '../../../upstream/client';
import { createLogger } from '../../../telemetry/logger';
import { Stopper } from '../../../upstream/stopper';
import { startFixtureUpstream } from '../../helpers/fixture-upstream';
import type { FixtureUpstream } from '../../helpers/fixture-upstream';

const metricsUrl = (u: FixtureUpstream) => `http://127.0.0.1:${u.port}/metrics`;

/** Waits for a condition that a background task (the metrics reader) makes true. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 50));
}

function chatBody(content: string, extra: Record<string, unknown> = {}) {
  return JSON.stringify({ model: 'm', messages: [{ role: 'user', content }], ...extra });
}

describe('UpstreamClient', () => {
  let upstream: FixtureUpstream;
  let clients: UpstreamClient[] = [];
  const client = (overrides: Partial<UpstreamClientConfig> = {}, maxConcurrency = 8) => {
    const c = new UpstreamClient({
      default: { baseUrl: upstream.baseUrl, apiKey: 'sk-up', maxConcurrency },
      routes: {},
      timeoutMs: 5000,
      maxResponseBytes: 1024 * 1024,
      maxAttempts: 4,
      ...overrides,
    });
    clients.push(c);
    return c;
  };
  const send = (c: UpstreamClient, body: string, deadlineMs = Date.now() + 60_000, url = '/v1/chat/completions') =>
    c.send({ model: 'm', url, body, fairnessKey: 'b', deadlineMs, stopper: new Stopper() });

  beforeEach(async () => {
    upstream = await startFixtureUpstream({ apiKey: 'sk-up' });
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    clients = [];
    await upstream.close();
  });

  it('maps /v1/<path> onto the base URL and sends the API key', async () => {
    const res = await send(client(), chatBody('hi'));
    expect(res).toMatchObject({ kind: 'response', status: 200, requestId: 'req_fixture_1' });
    if (res.kind !== 'response') return;
    expect(JSON.parse(res.bodyText).choices[0].message.content).toBe('echo: hi');
    expect(upstream.lastHeaders?.authorization).toBe('Bearer sk-up');
    const completion = await send(client(), JSON.stringify({ model: 'm', prompt: 'p' }), undefined, '/v1/completions');
    expect(completion).toMatchObject({ kind: 'response', status: 200 });
  });

  it('returns other 4xx answers at once, without retrying', async () => {
    const res = await send(client(), chatBody('x', { fixture: { status: 400 } }));
    expect(res).toMatchObject({ kind: 'response', status: 400 });
    expect(upstream.requestCount).toBe(1);
  });

  it.each([408, 409, 429, 500, 503])('retries %i and returns the later success', async (status) => {
    const res = await send(client(), chatBody('x', { fixture: { status, times: 2, retry_after: 0 } }));
    expect(res).toMatchObject({ kind: 'response', status: 200 });
    expect(upstream.requestCount).toBe(3);
  });

  it('gives up after maxAttempts and returns the last answer', async () => {
    const res = await send(client({ maxAttempts: 2 }), chatBody('x', { fixture: { status: 500, retry_after: 0 } }));
    expect(res).toMatchObject({ kind: 'response', status: 500 });
    expect(upstream.requestCount).toBe(2);
  });

  it('honours Retry-After', async () => {
    const started = Date.now();
    const res = await send(client(), chatBody('x', { fixture: { status: 429, times: 1, retry_after: 1 } }));
    expect(res).toMatchObject({ kind: 'response', status: 200 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('does not wait past the deadline', async () => {
    const res = await send(client(), chatBody('x', { fixture: { status: 503, retry_after: 30 } }), Date.now() + 2000);
    expect(res).toMatchObject({ kind: 'response', status: 503 });
    expect(upstream.requestCount).toBe(1);
  });

  it('retries reset connections', async () => {
    const res = await send(client(), chatBody('x', { fixture: { reset: true, times: 1 } }));
    expect(res).toMatchObject({ kind: 'response', status: 200 });
  });

  it('reports a request that times out on every attempt', async () => {
    const res = await send(client({ timeoutMs: 200, maxAttempts: 2 }), chatBody('x', { fixture: { delay_ms: 1000 } }));
    expect(res).toMatchObject({ kind: 'failure', code: 'request_timeout' });
  });

  it('bounds the whole request: a body dripping a byte at a time is cut off and retried, not a success', async () => {
    // Each byte arrives well within the timeout, so only a deadline on the whole request can end it.
    const body = chatBody('drip', { fixture: { drip_ms: 20, times: 1 } });
    const res = await send(client({ timeoutMs: 300, maxAttempts: 2 }), body);
    expect(res).toMatchObject({ kind: 'response', status: 200 });
    expect(upstream.seen.get(body)).toBe(2);
    const always = chatBody('drip', { fixture: { drip_ms: 20 } });
    expect(await send(client({ timeoutMs: 300, maxAttempts: 2 }), always)).toMatchObject({
      kind: 'failure',
      code: 'request_timeout',
    });
  });

  it('refuses an answer larger than maxResponseBytes at once, without retrying it', async () => {
    const body = chatBody('big', { fixture: { body_bytes: 64 * 1024 } });
    const res = await send(client({ maxResponseBytes: 16 * 1024 }), body);
    expect(res).toMatchObject({ kind: 'failure', code: 'response_too_large' });
    expect(upstream.seen.get(body)).toBe(1);
    // Within the limit, the same answer is taken.
    expect(await send(client({ maxResponseBytes: 128 * 1024 }), body)).toMatchObject({ kind: 'response', status: 200 });
  });

  it('reports an upstream that refuses connections as unreachable', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const c = client({
      default: { baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: null, maxConcurrency: 2 },
      maxAttempts: 2,
    });
    expect(await send(c, chatBody('x'))).toMatchObject({ kind: 'unreachable' });
  });

  it('stops when its stopper is stopped', async () => {
    const stopper = new Stopper();
    const pending = client().send({
      model: 'm',
      url: '/v1/chat/completions',
      body: chatBody('x', { fixture: { delay_ms: 5000 } }),
      fairnessKey: 'b',
      deadlineMs: Date.now() + 60_000,
      stopper,
    });
    setTimeout(() => stopper.stop(), 100);
    expect(await pending).toEqual({ kind: 'aborted' });
  });

  it('keeps at most maxConcurrency requests in flight', async () => {
    upstream.setOptions({ latencyMs: 30 });
    const c = client({}, 3);
    await Promise.all(Array.from({ length: 15 }, (_, i) => send(c, chatBody(`n${i}`))));
    expect(upstream.maxInFlight).toBe(3);
  });

  it("keeps a sender's slot for its next request, and frees it between retries", async () => {
    const c = client({}, 1);
    const sender = c.sender({ fairnessKey: 'b', priority: 0, deadlineMs: Date.now() + 60_000, stopper: new Stopper() });
    const other = () =>
      c.sender({ fairnessKey: 'c', priority: 0, deadlineMs: Date.now() + 60_000, stopper: new Stopper() });
    expect(sender.tryReady(null)).toBe(true);
    expect(c.limits()[0].inFlight).toBe(1);
    // With the only slot held by the sender, its request uses it instead of waiting for another.
    expect(await sender.send('m', '/v1/chat/completions', chatBody('a'))).toMatchObject({
      kind: 'response',
      status: 200,
    });
    expect(c.limits()[0].inFlight).toBe(1);
    expect(sender.tryReady(null)).toBe(true); // kept: nobody waits
    expect(other().tryReady(null)).toBe(false); // the cap of one holds

    // While the request waits to retry a 429, its slot serves others.
    const retried = sender.send(
      'm',
      '/v1/chat/completions',
      chatBody('r', { fixture: { status: 429, times: 1, retry_after: 0.2 } }),
    );
    await new Promise((r) => setTimeout(r, 100));
    const meanwhile = other();
    expect(meanwhile.tryReady(null)).toBe(true);
    meanwhile.close();
    expect(await retried).toMatchObject({ kind: 'response', status: 200 });
    expect(c.limits()[0].inFlight).toBe(1);

    sender.close();
    sender.close(); // a second close is harmless
    expect(c.limits()[0].inFlight).toBe(0);
  });

  it('gives a kept slot up when another batch waits, and a waiting sender gives up when stopped', async () => {
    const c = client({}, 1);
    const options = (key: string, stopper = new Stopper()) => ({
      fairnessKey: key,
      priority: 0,
      deadlineMs: Date.now() + 60_000,
      stopper,
    });
    const holder = c.sender(options('a'));
    expect(holder.tryReady(null)).toBe(true);
    const stopper = new Stopper();
    const waiting = c.sender(options('b', stopper)).waitReady(null);
    const next = c.sender(options('c'));
    const granted = next.waitReady(null);
    stopper.stop();
    expect(await waiting).toBe(false);
    // Batch c waits: the holder of batch a may not keep its slot for another request.
    expect(holder.tryReady(null)).toBe(false);
    expect(await granted).toBe(true);
    next.close();
    expect(c.limits()[0].inFlight).toBe(0);
  });

  it('starts low, backs off once per round of 429s or 503s, and grows again while answers come back', async () => {
    const c = client({ maxAttempts: 1 }, 48);
    expect(c.limits()[0]).toMatchObject({ limit: 4, ceiling: 48, floor: 1 });
    // A round of four overloaded answers, all sent before the first came back: one cut (4 → 2), not four.
    const overloaded = (status: number, tag: string) =>
      Array.from({ length: 4 }, (_, i) => chatBody(`${tag}${i}`, { fixture: { status, retry_after: 0 } }));
    const first = await Promise.all(overloaded(429, 'a').map((body) => send(c, body)));
    expect(first.every((r) => r.kind === 'response' && r.status === 429)).toBe(true);
    expect(c.limits()[0].limit).toBe(2);
    await Promise.all(
      overloaded(503, 'b')
        .slice(0, 2)
        .map((body) => send(c, body)),
    );
    expect(c.limits()[0].limit).toBe(1);

    // Answers of a steady 200 ms: no queue in the latency, so the limit grows back (within a few windows of
    // four answers; only a machine that doubled every round trip could hold it down).
    upstream.setOptions({ latencyMs: 200 });
    for (let round = 0; round < 30 && c.limits()[0].limit < 3; round++) {
      const n = c.limits()[0].limit;
      await Promise.all(Array.from({ length: n }, (_, i) => send(c, chatBody(`g${round}-${i}`))));
    }
    expect(c.limits()[0].limit).toBeGreaterThanOrEqual(3);
    expect(c.limits()[0].noLoadRttMs).toBeGreaterThanOrEqual(200);
  });

  it('backs off on timeouts, once per round', async () => {
    const c = client({ timeoutMs: 200, maxAttempts: 1 }, 48);
    const results = await Promise.all(
      Array.from({ length: 4 }, (_, i) => send(c, chatBody(`t${i}`, { fixture: { delay_ms: 2000 } }))),
    );
    expect(results.every((r) => r.kind === 'failure' && r.code === 'request_timeout')).toBe(true);
    expect(c.limits()[0].limit).toBe(2);
  });

  it("keeps within this worker's share of the upstream (a budget across workers), within the configured ceiling", async () => {
    const c = client({}, 8);
    c.setShare('', 2);
    expect(c.limits()[0]).toMatchObject({ limit: 2, ceiling: 2 });
    upstream.setOptions({ latencyMs: 20 });
    await Promise.all(Array.from({ length: 12 }, (_, i) => send(c, chatBody(`c${i}`))));
    expect(upstream.maxInFlight).toBe(2);
    c.setShare('', 100);
    expect(c.limits()[0].ceiling).toBe(8);
    // A share of 0 (others hold the whole ceiling until they give some up) stops new requests.
    c.setShare('', 0);
    const waiting = send(c, chatBody('held'));
    await new Promise((r) => setTimeout(r, 100));
    expect(upstream.seen.has(chatBody('held'))).toBe(false);
    c.setShare('', 1);
    expect(await waiting).toMatchObject({ kind: 'response', status: 200 });
  });

  it('reads the requests waiting at the server from its Prometheus metrics, while requests are in flight', async () => {
    upstream.setOptions({ slots: 0, metrics: true }); // nothing is served: everything sent waits
    const logged: string[] = [];
    const c = new UpstreamClient(
      {
        default: { baseUrl: upstream.baseUrl, apiKey: 'sk-up', maxConcurrency: 8, metricsUrl: metricsUrl(upstream) },
        routes: {},
        timeoutMs: 60_000,
        maxResponseBytes: 1024 * 1024,
        maxAttempts: 1,
      },
      { logger: createLogger({ level: 'info', service: 'test' }, { write: (line: string) => logged.push(line) }) },
    );
    clients.push(c);
    const stopper = new Stopper();
    const pending = Array.from({ length: 3 }, (_, i) =>
      c.send({
        model: 'm',
        url: '/v1/chat/completions',
        body: chatBody(`w${i}`),
        fairnessKey: 'b',
        deadlineMs: Date.now() + 60_000,
        stopper,
      }),
    );
    await until(() => c.limits()[0].serverWaiting === 3);
    stopper.stop();
    expect(await Promise.all(pending)).toEqual([{ kind: 'aborted' }, { kind: 'aborted' }, { kind: 'aborted' }]);
    expect(logged.some((l) => l.includes('upstream concurrency limit starts at 4'))).toBe(true);
  });

  it('says once that metrics it cannot read are ignored, and sends on latency alone', async () => {
    const logged: string[] = [];
    const c = new UpstreamClient(
      {
        default: { baseUrl: upstream.baseUrl, apiKey: 'sk-up', maxConcurrency: 8, metricsUrl: metricsUrl(upstream) },
        routes: {},
        timeoutMs: 60_000,
        maxResponseBytes: 1024 * 1024,
        maxAttempts: 1,
      },
      { logger: createLogger({ level: 'info', service: 'test' }, { write: (line: string) => logged.push(line) }) },
    );
    clients.push(c);
    upstream.setOptions({ latencyMs: 1500 }); // in flight long enough for a scrape of the missing page
    expect(await send(c, chatBody('x'))).toMatchObject({ kind: 'response', status: 200 });
    const warnings = logged.filter((l) => l.includes('upstream metrics unreadable'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0])).toMatchObject({ level: 40, error: 'HTTP 404' });
    expect(c.limits()[0].serverWaiting).toBeNull();
  });

  it('routes models listed in MODEL_ROUTES to their own upstream', async () => {
    const other = await startFixtureUpstream();
    try {
      const c = client({ routes: { special: { baseUrl: other.baseUrl, apiKey: null, maxConcurrency: 2 } } });
      const res = await c.send({
        model: 'special',
        url: '/v1/chat/completions',
        body: JSON.stringify({ model: 'special', messages: [] }),
        fairnessKey: 'b',
        deadlineMs: Date.now() + 10_000,
        stopper: new Stopper(),
      });
      expect(res).toMatchObject({ kind: 'response', status: 200 });
      expect(other.requestCount).toBe(1);
      expect(upstream.requestCount).toBe(0);
    } finally {
      await other.close();
    }
  });

  it('answers 404 model_not_found for a model no upstream serves', async () => {
    const c = client({ default: null, routes: {} });
    const res = await send(c, chatBody('x'));
    expect(res).toMatchObject({ kind: 'response', status: 404 });
    if (res.kind === 'response') expect(JSON.parse(res.bodyText).error.code).toBe('model_not_found');
  });
});

describe('parseRetryAfter', () => {
  it('reads milliseconds, seconds and HTTP dates', () => {
    expect(parseRetryAfter({ 'retry-after-ms': '250' })).toBe(250);
    expect(parseRetryAfter({ 'retry-after': '3' })).toBe(3000);
    const date = new Date(Date.now() + 10_000).toUTCString();
    expect(parseRetryAfter({ 'retry-after': date })).toBeGreaterThan(8000);
    expect(parseRetryAfter({})).toBeNull();
    expect(parseRetryAfter({ 'retry-after': 'soon' })).toBeNull();
  });
});
