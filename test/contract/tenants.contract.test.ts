/**
 * Pins who gets in and what each key sees: every /v1 request needs a known key (401 `invalid_api_key`
 * otherwise); each key is a tenant that cannot read, download, delete or cancel another's objects (404,
 * as if they did not exist), lists only its own, cannot run a batch over another's file, and owns the
 * result files of its batches. Batch creation is rate-limited per key (429 with `retry-after`). Named
 * tenants (TENANTS) turn authentication on by themselves, and their name and weight go with their batches.
 */
import { Client, Connection, defaultPayloadConverter } from '@temporalio/client';
import OpenAI from 'openai';
import { downloadLines, requestLine, startTestStack, uploadLines, waitForBatch } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';

jest.setTimeout(60_000);

describe('API keys and tenants', () => {
  let stack: TestStack;
  let alice: OpenAI;
  let bob: OpenAI;
  beforeAll(async () => {
    stack = await startTestStack({ env: { API_KEYS: 'sk-alice,sk-bob', BATCH_CREATE_RATE_LIMIT_PER_HOUR: '4' } });
    alice = new OpenAI({ baseURL: `${stack.api.url}/v1`, apiKey: 'sk-alice', maxRetries: 0 });
    bob = new OpenAI({ baseURL: `${stack.api.url}/v1`, apiKey: 'sk-bob', maxRetries: 0 });
  });
  afterAll(() => stack.stop());

  it('answers a missing or unknown key with 401 invalid_api_key', async () => {
    const missing = await fetch(`${stack.api.url}/v1/files`);
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { error: unknown }).error).toMatchObject({
      type: 'invalid_request_error',
      code: 'invalid_api_key',
    });
    const wrong = new OpenAI({ baseURL: `${stack.api.url}/v1`, apiKey: 'sk-alicf', maxRetries: 0 });
    const err = await wrong.batches.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe('invalid_api_key');
    // /healthz and /metrics are for probes and scrapers, outside /v1.
    expect((await fetch(`${stack.api.url}/healthz`)).status).toBe(200);
  });

  it("keeps each tenant's files and batches invisible to the other", async () => {
    const lines = [requestLine('a-1', '/v1/chat/completions'), requestLine('a-2', '/v1/chat/completions')];
    const file = await uploadLines(alice, lines);
    const created = await alice.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const { batch } = await waitForBatch(alice, created.id);
    expect(batch.status).toBe('completed');

    const notFound = async (call: Promise<unknown>) => {
      const err = await call.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    };
    await notFound(bob.files.retrieve(file.id));
    await notFound(bob.files.content(file.id));
    await notFound(bob.files.delete(file.id));
    await notFound(bob.files.retrieve(batch.output_file_id!));
    await notFound(bob.files.content(batch.output_file_id!));
    await notFound(bob.batches.retrieve(batch.id));
    await notFound(bob.batches.cancel(batch.id));
    expect((await bob.files.list()).data.map((f) => f.id)).not.toContain(file.id);
    expect((await bob.batches.list()).data.map((b) => b.id)).not.toContain(batch.id);

    // The owner still has all of it, results included.
    expect((await alice.files.retrieve(file.id)).id).toBe(file.id);
    expect((await downloadLines(alice, batch.output_file_id!)).map((l) => l.custom_id).sort()).toEqual(['a-1', 'a-2']);
    expect((await alice.files.list()).data.map((f) => f.id)).toEqual(
      expect.arrayContaining([file.id, batch.output_file_id]),
    );

    // Bob cannot run a batch over Alice's file: it fails as if the file did not exist.
    const stolen = await bob.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const { batch: refused } = await waitForBatch(bob, stolen.id);
    expect(refused.status).toBe('failed');
    expect(refused.errors?.data?.[0]).toMatchObject({ param: 'input_file_id' });
    expect(refused.errors?.data?.[0].message).toContain('Cannot find file');
    expect(stack.upstream.seen.size).toBe(2);
  });

  it('limits batch creation per key with a 429 envelope and retry-after, other keys unaffected', async () => {
    // Alice created one batch above and Bob one; the limit is 4 an hour.
    const file = await uploadLines(alice, [requestLine('r', '/v1/chat/completions')]);
    const create = (client: OpenAI) =>
      client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    for (let i = 0; i < 3; i++) await create(alice);
    const err = await create(alice).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const limited = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(limited.error).toEqual({
      message: expect.stringMatching(
        /^Rate limit reached for batch creation: at most 4 batches per hour for this API key\. Try again in \d+s\.$/,
      ) as unknown,
      type: 'rate_limit_error',
      param: null,
      code: 'rate_limit_exceeded',
    });
    const retryAfter = Number(limited.headers?.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(3500);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    // Reads are not limited, and Bob still has room (the file is Alice's, so his batch fails validation).
    expect((await alice.batches.list()).data.length).toBeGreaterThanOrEqual(4);
    expect((await create(bob)).status).toBe('validating');
  });
});

describe('named tenants (TENANTS)', () => {
  let stack: TestStack;
  let teamA: OpenAI;
  let teamB: OpenAI;
  beforeAll(async () => {
    const tenants = { 'team-a': { keys: ['sk-a'], weight: 3 }, 'team-b': { keys: ['sk-b'] } };
    stack = await startTestStack({ env: { TENANTS: JSON.stringify(tenants) } });
    teamA = new OpenAI({ baseURL: `${stack.api.url}/v1`, apiKey: 'sk-a', maxRetries: 0 });
    teamB = new OpenAI({ baseURL: `${stack.api.url}/v1`, apiKey: 'sk-b', maxRetries: 0 });
  });
  afterAll(() => stack.stop());

  it('turn authentication on by themselves, keep each other apart, and are named in the batch and its workflow', async () => {
    const stranger = new OpenAI({ baseURL: `${stack.api.url}/v1`, apiKey: 'sk-other', maxRetries: 0 });
    expect(await stranger.files.list().catch((e: unknown) => e)).toBeInstanceOf(OpenAI.AuthenticationError);

    const file = await uploadLines(teamA, [requestLine('t-1', '/v1/chat/completions')]);
    const created = await teamA.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    await waitForBatch(teamA, created.id);
    expect(await teamB.batches.retrieve(created.id).catch((e: unknown) => e)).toBeInstanceOf(OpenAI.NotFoundError);
    expect((await teamB.batches.list()).data).toEqual([]);

    // The scheduler reads the tenant and its weight from the workflow input; operators see its name.
    const connection = await Connection.connect({ address: stack.temporalAddress });
    try {
      const handle = new Client({ connection }).workflow.getHandle(created.id);
      const history = await handle.fetchHistory();
      const started = history.events![0].workflowExecutionStartedEventAttributes!;
      const input = defaultPayloadConverter.fromPayload<{ record: { owner: string; tenant: unknown } }>(
        started.input!.payloads![0],
      );
      expect(input.record).toMatchObject({ owner: 'team-a', tenant: { name: 'team-a', weight: 3 } });
      const description = await handle.describe();
      expect(description.typedSearchAttributes.get({ name: 'BatchOwner', type: 'KEYWORD' })).toBe('team-a');
    } finally {
      await connection.close();
    }
    expect(stack.logs.some((l) => l.msg === 'batch created' && l.owner === 'team-a')).toBe(true);
  });
});
