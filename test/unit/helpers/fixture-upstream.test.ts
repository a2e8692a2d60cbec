/**
 * Pins the fixture upstream the other suites stand on: its capacity model (N slots, a FIFO queue, no 429s,
 * hang-ups leave the queue or free their slot) and its stats, OpenAI's shapes on all five batchable
 * endpoints as the `openai` npm client reads them, and the `endpoints` and `models` options.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import OpenAI from 'openai';
import { startFixtureUpstream } from '../../helpers/fixture-upstream';
import type { FixtureUpstream, FixtureUpstreamOptions } from '../../helpers/fixture-upstream';
import { freePort } from '../../helpers/ports';

const ROOT = path.resolve(__dirname, '..', '..', '..');

let upstream: FixtureUpstream;
const start = async (options: FixtureUpstreamOptions = {}) => (upstream = await startFixtureUpstream(options));
afterEach(async () => {
  await upstream?.close();
});

/** Polls a condition (order, not time, is asserted: the timeout only stops a broken test). */
async function until(condition: () => boolean, what = 'condition'): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function post(route: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(`${upstream.baseUrl}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
}

const chat = (tag: string, directive: Record<string, unknown> = {}) => ({
  model: 'fixture-model',
  messages: [{ role: 'user', content: `hello from ${tag}` }],
  fixture: { tag, ...directive },
});

const client = (apiKey = 'sk-fixture') => new OpenAI({ baseURL: upstream.baseUrl, apiKey, maxRetries: 0 });

/** Sends tagged requests one after another, each once the previous one has joined the queue. */
async function sendQueued(tags: string[]): Promise<Promise<number>[]> {
  const replies: Promise<number>[] = [];
  for (const tag of tags) {
    const arrived = upstream.requests.length;
    replies.push(post('/chat/completions', chat(tag)).then((res) => res.status));
    await until(() => upstream.requests.length === arrived + 1, `${tag} to arrive`);
  }
  return replies;
}

describe('fixture upstream: capacity model', () => {
  it('serves at most `slots` at once, starts them in order of arrival, and queues instead of answering 429', async () => {
    await start({ slots: 0, serviceMs: 30 });
    const tags = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'];
    const replies = await sendQueued(tags);
    expect(upstream.queued).toBe(6);
    upstream.setOptions({ slots: 2 });
    expect(await Promise.all(replies)).toEqual([200, 200, 200, 200, 200, 200]);

    const stats = upstream.stats();
    expect(stats).toMatchObject({ arrived: 6, completed: 6, abandonedQueued: 0, maxServing: 2, maxQueued: 6 });
    expect(stats).toMatchObject({ queued: 0, serving: 0 });
    expect(upstream.statuses.get(429)).toBeUndefined();
    expect(upstream.statuses.get(200)).toBe(6);

    const records = upstream.requests;
    expect(records.map((r) => r.tag)).toEqual(tags);
    expect(records.map((r) => r.outcome)).toEqual(tags.map(() => 'served'));
    const byStart = [...records].sort((a, b) => a.startedAt! - b.startedAt!);
    expect(byStart.map((r) => r.tag)).toEqual(tags);
    // A queued request gets a slot only when an earlier one has been answered: the k-th (k > 2) starts
    // after at least k - 2 answers.
    records.forEach((r, k) => {
      if (k < 2) return;
      expect(records.filter((o) => o.endedAt! <= r.startedAt!).length).toBeGreaterThanOrEqual(k - 1);
    });

    expect(upstream.queueWaits).toHaveLength(6);
    for (const wait of upstream.queueWaits) expect(wait).toBeGreaterThanOrEqual(0);
    expect(stats.queueWaitMs.count).toBe(6);
    expect(stats.queueWaitMs.max).toBeGreaterThanOrEqual(stats.queueWaitMs.p95);
    expect(stats.queueWaitMs.p95).toBeGreaterThanOrEqual(stats.queueWaitMs.p50);
    expect(stats.firstArrivalAt).toBe(records[0].arrivedAt);
    expect(stats.lastResponseAt).toBe(Math.max(...records.map((r) => r.endedAt!)));

    expect(upstream.depthSamples.length).toBeGreaterThan(0);
    for (const s of upstream.depthSamples) {
      expect(s.serving).toBeLessThanOrEqual(2);
      expect(s.serving + s.queued).toBeLessThanOrEqual(6);
      expect(s.serving + s.queued).toBeGreaterThan(0);
    }
    expect(stats.depth.count).toBe(upstream.depthSamples.length);
    expect(stats.depth.max).toBe(Math.max(...upstream.depthSamples.map((s) => s.serving + s.queued)));
  });

  it('with one slot, answers in order of arrival', async () => {
    await start({ slots: 0, serviceMs: 10 });
    const tags = ['a', 'b', 'c', 'd'];
    const replies = await sendQueued(tags);
    upstream.setOptions({ slots: 1 });
    await Promise.all(replies);
    const byEnd = [...upstream.requests].sort((x, y) => x.endedAt! - y.endedAt!);
    expect(byEnd.map((r) => r.tag)).toEqual(tags);
    expect(upstream.stats().maxServing).toBe(1);
  });

  it('drops a request whose client hangs up while queued, and frees the slot of one hung up while served', async () => {
    await start({ slots: 1 });
    const first = new AbortController();
    const quitter = new AbortController();
    const firstReply = post('/chat/completions', chat('first', { service_ms: 600_000 }), first.signal).catch(
      (err: unknown) => err,
    );
    await until(() => upstream.serving === 1, 'first to be served');
    const quitterReply = post('/chat/completions', chat('quitter'), quitter.signal).catch((err: unknown) => err);
    await until(() => upstream.queued === 1, 'quitter to queue');
    const lastReply = post('/chat/completions', chat('last', { service_ms: 1 }));
    await until(() => upstream.queued === 2, 'last to queue');

    quitter.abort();
    await until(() => upstream.queued === 1, 'the queue to shrink');
    expect(upstream.serving).toBe(1);
    expect(upstream.requests.find((r) => r.tag === 'quitter')).toMatchObject({
      outcome: 'abandoned-queued',
      startedAt: null,
    });

    // `first` had ten minutes of service left: `last` is answered only because the hang-up freed the slot.
    first.abort();
    expect((await lastReply).status).toBe(200);
    expect(await quitterReply).toMatchObject({ name: 'AbortError' });
    expect(await firstReply).toMatchObject({ name: 'AbortError' });

    const outcomes = Object.fromEntries(upstream.requests.map((r) => [r.tag, r.outcome]));
    expect(outcomes).toEqual({ first: 'abandoned-serving', quitter: 'abandoned-queued', last: 'served' });
    const served = upstream.requests.filter((r) => r.outcome === 'served').map((r) => r.tag);
    expect(served).toEqual(['last']);
    expect(upstream.stats()).toMatchObject({
      arrived: 3,
      completed: 1,
      abandonedQueued: 1,
      abandonedServing: 1,
      maxServing: 1,
      queued: 0,
      serving: 0,
    });
    expect(upstream.queueWaits).toHaveLength(2);
    for (const s of upstream.depthSamples) expect(s.serving).toBeLessThanOrEqual(1);
  });

  it('queues every POST endpoint alike', async () => {
    await start({ slots: 0 });
    const replies = [
      post('/embeddings', { model: 'e', input: 'x' }),
      post('/responses', { model: 'r', input: 'x' }),
      post('/moderations', { input: 'x' }),
      post('/completions', { model: 'c', prompt: 'x' }),
      post('/chat/completions', chat('x')),
    ];
    await until(() => upstream.queued === 5, 'all five to queue');
    upstream.setOptions({ slots: 1 });
    expect((await Promise.all(replies)).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(new Set(upstream.requests.map((r) => r.endpoint)).size).toBe(5);
    expect(upstream.stats().maxServing).toBe(1);
  });

  it('keeps stats apart between phases, and serves them on /fixture/stats', async () => {
    await start({ slots: 2 });
    await Promise.all(await sendQueued(['p1', 'p2', 'p3']));
    const root = upstream.baseUrl.replace(/\/v1$/, '');
    const before = upstream.requestCount;
    const remote = (await (await fetch(`${root}/fixture/stats`)).json()) as Record<string, unknown>;
    expect(remote).toEqual(JSON.parse(JSON.stringify(upstream.stats())));
    expect(remote).toMatchObject({ arrived: 3, completed: 3 });
    const detail = (await (await fetch(`${root}/fixture/stats?detail=true`)).json()) as { requests: unknown[] };
    expect(detail.requests).toHaveLength(3);

    expect((await fetch(`${root}/fixture/stats/reset`, { method: 'POST' })).status).toBe(204);
    expect(upstream.stats()).toMatchObject({
      arrived: 0,
      completed: 0,
      firstArrivalAt: null,
      lastResponseAt: null,
      queueWaitMs: { count: 0 },
      depth: { count: 0 },
    });
    expect(upstream.requests).toHaveLength(0);
    expect(upstream.depthSamples).toHaveLength(0);
    // The stats routes are not traffic.
    expect(upstream.requestCount).toBe(before);

    await Promise.all(await sendQueued(['q1']));
    upstream.resetStats();
    expect(upstream.stats().arrived).toBe(0);
  });

  it('still answers 429 beyond `capacity`, before a request can queue', async () => {
    await start({ capacity: 1, slots: 0 });
    const waiting = post('/chat/completions', chat('waiting'));
    await until(() => upstream.queued === 1, 'the first request to queue');
    expect((await post('/chat/completions', chat('refused'))).status).toBe(429);
    upstream.setOptions({ slots: 1 });
    expect((await waiting).status).toBe(200);
    expect(upstream.requests.map((r) => r.tag)).toEqual(['waiting']);
  });
});

describe('fixture upstream: OpenAI endpoints through the openai client', () => {
  beforeEach(() => start());

  it('chat completions', async () => {
    const res = await client().chat.completions.create({
      model: 'fixture-model',
      messages: [{ role: 'user', content: 'say something' }],
    });
    expect(res.object).toBe('chat.completion');
    expect(res.choices[0].message.content).toBe('echo: say something');
    expect(res.usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });
  });

  it('completions', async () => {
    const res = await client().completions.create({ model: 'fixture-model', prompt: 'one two' });
    expect(res.object).toBe('text_completion');
    expect(res.choices[0].text).toBe('echo: one two');
    expect(res.usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });
  });

  it('embeddings: one unit vector per input, deterministic, base64 or floats, `dimensions` honoured', async () => {
    const api = client();
    const strings = await api.embeddings.create({ model: 'emb', input: ['one two three', 'four'] });
    expect(strings).toMatchObject({ object: 'list', model: 'emb', usage: { prompt_tokens: 4, total_tokens: 4 } });
    expect(strings.data.map((d) => [d.object, d.index, d.embedding.length])).toEqual([
      ['embedding', 0, 8],
      ['embedding', 1, 8],
    ]);
    const norm = Math.hypot(...strings.data[0].embedding);
    expect(norm).toBeCloseTo(1, 5);
    expect(strings.data[0].embedding).not.toEqual(strings.data[1].embedding);

    // The client asked for base64 above and decoded it; floats carry the same numbers.
    const floats = await api.embeddings.create({ model: 'emb', input: 'one two three', encoding_format: 'float' });
    expect(floats.data[0].embedding).toEqual(strings.data[0].embedding);

    const tokens = await api.embeddings.create({ model: 'emb', input: [[1, 2, 3], [4]], dimensions: 3 });
    expect(tokens.data.map((d) => d.embedding.length)).toEqual([3, 3]);
    expect(tokens.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
    const single = await api.embeddings.create({ model: 'emb', input: [5, 6] });
    expect(single.data).toHaveLength(1);
    expect(single.usage.prompt_tokens).toBe(2);

    await expect(api.embeddings.create({ model: 'emb', input: [] })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('embeddings: the vector length is a knob', async () => {
    upstream.setOptions({ embeddingDimensions: 5 });
    const res = await client().embeddings.create({ model: 'emb', input: 'x' });
    expect(res.data[0].embedding).toHaveLength(5);
  });

  it('responses: a completed Response echoing the last user message, with usage', async () => {
    const res = await client().responses.create({ model: 'fixture-model', input: 'what is this' });
    expect(res).toMatchObject({ object: 'response', status: 'completed', model: 'fixture-model', error: null });
    expect(res.id).toMatch(/^resp_/);
    expect(res.output).toHaveLength(1);
    expect(res.output[0]).toMatchObject({ type: 'message', status: 'completed', role: 'assistant' });
    expect(res.output[0].id).toMatch(/^msg_/);
    expect(res.output_text).toBe('echo: what is this');
    expect(res.usage).toEqual({
      input_tokens: 3,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 4,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 7,
    });

    const items = await client().responses.create({
      model: 'fixture-model',
      instructions: 'be brief',
      input: [
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: 'an answer' },
        { role: 'user', content: [{ type: 'input_text', text: 'second question' }] },
      ],
    });
    expect(items.output_text).toBe('echo: second question');
    expect(items.instructions).toBe('be brief');
    expect(items.usage?.input_tokens).toBe(8);
  });

  it('moderations: one unflagged result per input, or one for a multimodal input', async () => {
    const api = client();
    const res = await api.moderations.create({ model: 'omni-moderation-latest', input: ['a', 'b c'] });
    expect(res.id).toMatch(/^modr-/);
    expect(res.model).toBe('omni-moderation-latest');
    expect(res.results).toHaveLength(2);
    for (const r of res.results) {
      expect(r.flagged).toBe(false);
      expect(Object.values(r.categories).every((v) => v === false)).toBe(true);
      expect(Object.keys(r.category_scores).sort()).toEqual(Object.keys(r.categories).sort());
      expect(r.category_applied_input_types.violence).toEqual(['text']);
    }
    const multimodal = await api.moderations.create({
      model: 'omni-moderation-latest',
      input: [
        { type: 'text', text: 'look' },
        { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
      ],
    });
    expect(multimodal.results).toHaveLength(1);
    expect(multimodal.results[0].category_applied_input_types.violence).toEqual(['text', 'image']);
    expect(multimodal.results[0].category_applied_input_types.hate).toEqual(['text']);
    // The model may be left out, as at OpenAI.
    expect((await api.moderations.create({ input: 'x' })).results).toHaveLength(1);
  });

  it('the knobs apply to the new endpoints: directives, faults and the API key', async () => {
    const failing = await post('/embeddings', { model: 'e', input: 'x', fixture: { status: 503, retry_after: 2 } });
    expect(failing.status).toBe(503);
    expect(failing.headers.get('retry-after')).toBe('2');
    expect(((await failing.json()) as { error: { type: string } }).error.type).toBe('server_error');

    upstream.setOptions({ faults: { status500: 1 } });
    expect((await post('/moderations', { input: 'x' })).status).toBe(500);
    upstream.setOptions({ faults: {}, apiKey: 'sk-right' });
    await expect(client('sk-wrong').responses.create({ model: 'm', input: 'x' })).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
    expect((await client('sk-right').responses.create({ model: 'm', input: 'x' })).status).toBe('completed');
  });
});

describe('fixture upstream: endpoints and models options', () => {
  it('answers 404 on endpoints it is told not to serve', async () => {
    await start({ endpoints: ['/v1/chat/completions', '/v1/embeddings'] });
    const api = client();
    await expect(api.responses.create({ model: 'm', input: 'x' })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(api.moderations.create({ input: 'x' })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(api.completions.create({ model: 'm', prompt: 'x' })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect((await api.embeddings.create({ model: 'm', input: 'x' })).data).toHaveLength(1);
    expect((await api.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] })).id).toBe(
      'chatcmpl-fixture-5',
    );
    // A 404 never reaches the capacity model.
    expect(upstream.requests.map((r) => r.endpoint)).toEqual(['/v1/embeddings', '/v1/chat/completions']);
  });

  it('has no model list by default, as a server without one', async () => {
    await start();
    const api = client();
    await expect(api.models.list()).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await upstream.close();
    await start({ models: ['fixture-model'] });
    const listed = client();
    const list = await listed.models.list();
    expect(list.data).toEqual([{ id: 'fixture-model', object: 'model', created: 1_700_000_000, owned_by: 'fixture' }]);
    expect((await listed.models.retrieve('fixture-model')).id).toBe('fixture-model');
    await expect(listed.models.retrieve('other')).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
  });

  it('lists the models it is given, and has no /v1/models with null', async () => {
    await start({ models: ['small', 'org/large'] });
    const api = client();
    expect((await api.models.list()).data.map((m) => m.id)).toEqual(['small', 'org/large']);
    expect((await api.models.retrieve('org/large')).id).toBe('org/large');
    // It serves the models on its list only, and names an unknown one as vLLM does.
    expect((await api.completions.create({ model: 'small', prompt: 'x' })).model).toBe('small');
    await expect(api.completions.create({ model: 'other', prompt: 'x' })).rejects.toMatchObject({
      status: 404,
      code: 'model_not_found',
      param: 'model',
    });

    upstream.setOptions({ models: null });
    await expect(api.models.list()).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(api.models.retrieve('small')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    // Without a list, models are not checked on the POST endpoints.
    expect((await api.completions.create({ model: 'anything', prompt: 'x' })).model).toBe('anything');
  });
});

describe('fixture upstream: the CLI', () => {
  it('takes --slots and --service-ms, serves /fixture/stats and prints the stats on exit', async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/helpers/fixture-upstream-cli.ts', '--port', String(port), '--slots', '0'],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', FIXTURE_SERVICE_MS: '5' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await until(() => output.includes('Fixture upstream (echo model)'), 'the CLI to start');
      const base = `http://127.0.0.1:${port}`;
      const stats = async () => (await (await fetch(`${base}/fixture/stats`)).json()) as { queued: number };
      // Zero slots: the request waits in the queue, where the stats route sees it.
      const controller = new AbortController();
      const reply = fetch(`${base}/v1/completions`, {
        method: 'POST',
        body: JSON.stringify({ model: 'm', prompt: 'x' }),
        signal: controller.signal,
      }).catch((err: unknown) => err);
      const waitForQueue = async (length: number) => {
        const deadline = Date.now() + 15_000;
        while ((await stats()).queued !== length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        expect((await stats()).queued).toBe(length);
      };
      await waitForQueue(1);
      controller.abort();
      await reply;
      await waitForQueue(0);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(output).toMatch(/Fixture upstream stats: \{"arrived":1,"completed":0,"abandonedQueued":1/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
