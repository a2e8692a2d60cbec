/**
 * Pins the Batches API as the official `openai` npm client uses it: create (and its synchronous 400s in
 * OpenAI's words), retrieve, list newest first with cursors, cancel, and the envelope on every error.
 */
import OpenAI from 'openai';
import { requestLine, startTestStack, uploadLines, waitForBatch } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';

jest.setTimeout(60_000);

const BATCH_FIELDS = [
  'id',
  'object',
  'endpoint',
  'model',
  'errors',
  'input_file_id',
  'completion_window',
  'status',
  'output_file_id',
  'error_file_id',
  'created_at',
  'in_progress_at',
  'expires_at',
  'finalizing_at',
  'completed_at',
  'failed_at',
  'expired_at',
  'cancelling_at',
  'cancelled_at',
  'request_counts',
  'usage',
  'metadata',
].sort();

describe('Batches API', () => {
  let stack: TestStack;
  let client: OpenAI;
  let inputFileId: string;
  beforeAll(async () => {
    stack = await startTestStack();
    client = stack.client;
    inputFileId = (await uploadLines(client, [requestLine('one', '/v1/chat/completions')])).id;
  });
  afterAll(() => stack.stop());

  const create = (extra: Record<string, unknown> = {}) =>
    client.batches.create({
      input_file_id: inputFileId,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      ...extra,
    });

  async function badRequest(body: Record<string, unknown>) {
    const err = await client.batches
      .create(body as unknown as OpenAI.Batches.BatchCreateParams)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    return (err as InstanceType<typeof OpenAI.BadRequestError>).error as Record<string, unknown>;
  }

  it('creates a batch in validating with every field of the Batch object', async () => {
    const { data: batch, response } = await create({ metadata: { k: 'v' } }).withResponse();
    expect(response.headers.get('x-request-id')).toMatch(/^req_/);
    expect(Object.keys(batch).sort()).toEqual(BATCH_FIELDS);
    expect(batch).toMatchObject({
      id: expect.stringMatching(/^batch_/),
      object: 'batch',
      status: 'validating',
      model: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      usage: {
        input_tokens: 0,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: 0,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 0,
      },
      metadata: { k: 'v' },
    });
    expect(Number.isInteger(batch.created_at)).toBe(true);
    const retrieved = await client.batches.retrieve(batch.id);
    expect(retrieved.id).toBe(batch.id);
    await waitForBatch(client, batch.id);
  });

  it('answers missing parameters as OpenAI does', async () => {
    expect(await badRequest({ endpoint: '/v1/chat/completions', completion_window: '24h' })).toEqual({
      message: "Missing required parameter: 'input_file_id'.",
      type: 'invalid_request_error',
      param: 'input_file_id',
      code: 'missing_required_parameter',
    });
    expect(await badRequest({ input_file_id: inputFileId, completion_window: '24h' })).toMatchObject({
      param: 'endpoint',
      code: 'missing_required_parameter',
    });
  });

  it('refuses an unsupported endpoint and completion window', async () => {
    expect(
      await badRequest({ input_file_id: inputFileId, endpoint: '/v1/invalid/endpoint', completion_window: '24h' }),
    ).toEqual({
      message:
        "Invalid value: '/v1/invalid/endpoint'. Supported values are: '/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/responses', and '/v1/moderations'.",
      type: 'invalid_request_error',
      param: 'endpoint',
      code: 'invalid_value',
    });
    // OpenAI batches images and videos too; no inference server this runs on serves them.
    expect(
      await badRequest({ input_file_id: inputFileId, endpoint: '/v1/images/generations', completion_window: '24h' }),
    ).toMatchObject({ param: 'endpoint', code: 'invalid_value' });
    for (const window of ['1h', '48h', '']) {
      expect(
        await badRequest({ input_file_id: inputFileId, endpoint: '/v1/completions', completion_window: window }),
      ).toMatchObject({ param: 'completion_window', code: 'invalid_value' });
    }
  });

  it('refuses metadata beyond OpenAI limits', async () => {
    const base = { input_file_id: inputFileId, endpoint: '/v1/completions', completion_window: '24h' };
    expect(await badRequest({ ...base, metadata: { tags: ['a'] } })).toMatchObject({
      param: 'metadata.tags',
      code: 'invalid_type',
    });
    expect(await badRequest({ ...base, metadata: { k: 'x'.repeat(513) } })).toMatchObject({
      param: 'metadata.k',
      code: 'string_above_max_length',
    });
    expect(await badRequest({ ...base, metadata: { ['k'.repeat(65)]: 'v' } })).toMatchObject({
      code: 'string_above_max_length',
    });
  });

  it('lists batches newest first and pages with after', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await create()).id);
    const first = await client.batches.list({ limit: 2 });
    expect(first.data.map((b) => b.id)).toEqual([ids[2], ids[1]]);
    expect(first.has_more).toBe(true);
    const second = await client.batches.list({ limit: 2, after: ids[1] });
    expect(second.data[0].id).toBe(ids[0]);
    const all: string[] = [];
    for await (const b of client.batches.list({ limit: 2 })) all.push(b.id);
    expect(all.slice(0, 3)).toEqual([ids[2], ids[1], ids[0]]);
    expect(new Set(all).size).toBe(all.length);
    const last = await client.batches.list({ limit: 2, after: all[all.length - 1] });
    expect(last.data).toEqual([]);
    expect(last.has_more).toBe(false);
    await Promise.all(ids.map((id) => waitForBatch(client, id)));
  });

  it('pages 20 batches by default', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 21; i++) ids.push((await create()).id);
    const page = await client.batches.list();
    expect(page.data).toHaveLength(20);
    expect(page.has_more).toBe(true);
    expect(page.data.map((b) => b.id)).toEqual(ids.slice(1).reverse());
    await Promise.all(ids.map((id) => waitForBatch(client, id)));
  });

  it('refuses a limit outside 1..100', async () => {
    const err = await client.batches.list({ limit: 101 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('limit');
  });

  it('answers an unknown batch with 404', async () => {
    await expect(client.batches.retrieve('batch_missing')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.batches.cancel('batch_missing')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('refuses to cancel a completed batch with 409, without the SDK retrying', async () => {
    const batch = await create();
    await waitForBatch(client, batch.id);
    const before = stack.upstream.requestCount;
    const err = await client.batches.cancel(batch.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.ConflictError);
    const conflict = err as InstanceType<typeof OpenAI.ConflictError>;
    expect(conflict.headers?.get('x-should-retry')).toBe('false');
    expect(conflict.error).toEqual({
      message: "Cannot cancel a batch with status 'completed'.",
      type: 'invalid_request_error',
      param: null,
      code: null,
    });
    expect(stack.upstream.requestCount).toBe(before);
  });

  it('refuses to cancel a failed batch with 409', async () => {
    const bad = await uploadLines(client, ['{oops']);
    const created = await client.batches.create({
      input_file_id: bad.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    expect((await waitForBatch(client, created.id)).batch.status).toBe('failed');
    const err = await client.batches.cancel(created.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.ConflictError);
    expect((err as InstanceType<typeof OpenAI.ConflictError>).message).toContain(
      "Cannot cancel a batch with status 'failed'.",
    );
  });

  it('gives result files the lifetime of output_expires_after', async () => {
    const batch = await create({ output_expires_after: { anchor: 'created_at', seconds: 7200 } });
    const done = (await waitForBatch(client, batch.id)).batch;
    const output = await client.files.retrieve(done.output_file_id!);
    expect(output.expires_at).toBe(output.created_at + 7200);
    const plain = (await waitForBatch(client, (await create()).id)).batch;
    const defaultOutput = await client.files.retrieve(plain.output_file_id!);
    expect(defaultOutput.expires_at).toBe(defaultOutput.created_at + 30 * 24 * 3600);
  });

  it('refuses output_expires_after outside one hour to 30 days', async () => {
    expect(
      await badRequest({
        input_file_id: inputFileId,
        endpoint: '/v1/completions',
        completion_window: '24h',
        output_expires_after: { anchor: 'created_at', seconds: 60 },
      }),
    ).toMatchObject({ param: 'output_expires_after.seconds', code: 'integer_below_min_value' });
    expect(
      await badRequest({
        input_file_id: inputFileId,
        endpoint: '/v1/completions',
        completion_window: '24h',
        output_expires_after: { anchor: 'last_active_at', seconds: 3600 },
      }),
    ).toMatchObject({ param: 'output_expires_after.anchor', code: 'invalid_value' });
  });

  it('answers unknown routes and wrong methods with the envelope', async () => {
    for (const [method, path] of [
      ['GET', '/v1/nothing'],
      ['DELETE', '/v1/batches'],
      ['PUT', '/v1/files/file-x'],
    ]) {
      const res = await fetch(`${stack.api.url}${path}`, { method });
      expect(res.status).toBeGreaterThanOrEqual(400);
      // The request is in the message, so a failure names the case.
      expect(`${method} ${path} → ${res.status}`).toMatch(/ → 4\d\d$/);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('x-request-id')).toMatch(/^req_/);
      const body = (await res.json()) as { error: Record<string, unknown> };
      expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    }
  });

  it('answers client mistakes with 4xx envelopes, never 5xx', async () => {
    const json = { 'content-type': 'application/json' };
    const cases: [string, string, Record<string, string>?, string?][] = [
      ['POST', '/v1/batches', json, '[]'],
      ['POST', '/v1/batches', json, 'null'],
      ['POST', '/v1/batches', json, '"text"'],
      ['POST', '/v1/batches', json, JSON.stringify({ input_file_id: 7, endpoint: 1, completion_window: null })],
      [
        'POST',
        '/v1/batches',
        json,
        JSON.stringify({ input_file_id: 'f', endpoint: '/v1/completions', completion_window: '24h', metadata: 'x' }),
      ],
      ['POST', '/v1/batches', { 'content-type': 'text/plain' }, 'input_file_id=x'],
      ['POST', '/v1/batches', json, JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) })],
      ['GET', '/v1/batches?limit=abc'],
      ['GET', '/v1/batches?limit=0'],
      ['GET', '/v1/batches?limit=5&limit=6'],
      ['GET', '/v1/files?order=sideways'],
      ['GET', '/v1/files?limit=10001'],
      ['GET', '/v1/batches/%ZZ'],
      ['GET', '/v1/files/..%2F..%2Fetc%2Fpasswd'],
      ['GET', '/v1/files/..%2F..%2Fetc%2Fpasswd/content'],
      ['DELETE', '/v1/files/file-01J00000000000000000000000'],
      ['POST', '/v1/batches/batch_01J00000000000000000000000/cancel'],
    ];
    for (const [method, path, headers, body] of cases) {
      const res = await fetch(`${stack.api.url}${path}`, { method, headers, body });
      const text = await res.text();
      // The request is in the string, so a failure names the case.
      expect(`${method} ${path} → ${res.status}`).toMatch(/ → 4\d\d$/);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(Object.keys((JSON.parse(text) as { error: object }).error).sort()).toEqual([
        'code',
        'message',
        'param',
        'type',
      ]);
    }
  });

  it('answers a malformed JSON body with 400', async () => {
    const res = await fetch(`${stack.api.url}/v1/batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"input_file_id": ',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
  });

  it('reports healthy at /healthz', async () => {
    const res = await fetch(`${stack.api.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });
});
