/**
 * Pins webhooks (DESIGN.md §6): one OpenAI-shaped event per terminal state, signed per Standard Webhooks
 * so that the official SDK's `client.webhooks.unwrap()` verifies it, retried with backoff by an activity,
 * and never holding back or changing the batch.
 */
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import OpenAI from 'openai';
import { startWorker } from '../../worker/worker';
import { requestLine, startTestStack, testTelemetry, testTemporal, uploadLines, waitForBatch } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';
import { startWebhookReceiver } from '../helpers/webhook-receiver';
import type { WebhookReceiver } from '../helpers/webhook-receiver';

jest.setTimeout(120_000);

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

describe('webhooks', () => {
  let stack: TestStack;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    stack = await startTestStack({
      upstream: { latencyMs: 100 },
      env: { WEBHOOK_SECRET: SECRET, WEBHOOK_ALLOW_INSECURE: 'true', UPSTREAM_MAX_CONCURRENCY: '2' },
    });
  });
  afterAll(() => stack.stop());
  afterEach(() => receiver.close());

  const createWithWebhook = async (lines: (Record<string, unknown> | string)[], url: string) => {
    const file = await uploadLines(stack.client, lines);
    return stack.client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      webhook_url: url,
    } as OpenAI.Batches.BatchCreateParams);
  };

  it('delivers a signed batch.completed event, retrying a failing receiver without holding the batch', async () => {
    receiver = await startWebhookReceiver({ failFirst: 2 });
    const { client } = stack;
    const created = await createWithWebhook([requestLine('w-1', '/v1/chat/completions')], receiver.url);
    const { batch } = await waitForBatch(client, created.id);
    expect(batch.status).toBe('completed');

    const [delivered] = await receiver.waitForDeliveries(1);
    // The batch was completed and readable while the receiver was still failing.
    expect(receiver.received[0].status).toBe(500);
    expect(await client.batches.retrieve(created.id)).toEqual(batch);

    const verifier = new OpenAI({ apiKey: 'unused', webhookSecret: SECRET });
    const event = await verifier.webhooks.unwrap(delivered.body, delivered.headers);
    expect(event).toMatchObject({ object: 'event', type: 'batch.completed', data: { id: batch.id } });
    expect((event.data as unknown as OpenAI.Batches.Batch).status).toBe('completed');
    expect(event.created_at).toBe(batch.completed_at);
    expect(delivered.headers['content-type']).toBe('application/json');

    // Every attempt carried the same event id and body.
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
    expect(receiver.received).toHaveLength(3);

    // A wrong secret does not verify.
    await expect(
      verifier.webhooks.unwrap(
        delivered.body,
        delivered.headers as Record<string, string>,
        `whsec_${randomBytes(32).toString('base64')}`,
      ),
    ).rejects.toThrow(/signature/);
  });

  it('sends batch.failed when validation fails', async () => {
    receiver = await startWebhookReceiver();
    const created = await createWithWebhook(['{oops'], receiver.url);
    const { batch } = await waitForBatch(stack.client, created.id);
    expect(batch.status).toBe('failed');
    const [delivered] = await receiver.waitForDeliveries(1);
    const event = await stack.client.webhooks.unwrap(delivered.body, delivered.headers, SECRET);
    expect(event).toMatchObject({ type: 'batch.failed', data: { id: batch.id } });
  });

  it('sends batch.cancelled when cancelled', async () => {
    receiver = await startWebhookReceiver();
    const lines = Array.from({ length: 30 }, (_, i) => requestLine(`x-${i}`, '/v1/chat/completions'));
    const created = await createWithWebhook(lines, receiver.url);
    await stack.client.batches.cancel(created.id);
    const { batch } = await waitForBatch(stack.client, created.id);
    expect(batch.status).toBe('cancelled');
    const [delivered] = await receiver.waitForDeliveries(1);
    const event = await stack.client.webhooks.unwrap(delivered.body, delivered.headers, SECRET);
    expect(event.type).toBe('batch.cancelled');
    expect(receiver.received).toHaveLength(1);
  });
});

describe('webhook targets', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack.stop());

  it.each([
    ['http://hooks.example.com/batch', 'expected an HTTPS URL'],
    ['ftp://hooks.example.com/batch', 'expected an HTTPS URL'],
    ['not a url', 'expected an absolute URL'],
    ['https://127.0.0.1:8443/batch', 'the address 127.0.0.1 is not public: loopback'],
    ['https://169.254.169.254/latest', 'the address 169.254.169.254 is not public: link-local (cloud metadata)'],
    [
      'https://[fd00:ec2::254]/',
      'the address fd00:ec2::254 is not public: unique local (private; includes cloud metadata such as fd00:ec2::254)',
    ],
  ])('refuses %s without WEBHOOK_ALLOW_INSECURE', async (url, problem) => {
    const file = await uploadLines(stack.client, [requestLine('t', '/v1/chat/completions')]);
    const err = await stack.client.batches
      .create({
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
        webhook_url: url,
      } as OpenAI.Batches.BatchCreateParams)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).error).toEqual({
      message: `Invalid 'webhook_url': ${problem}.`,
      type: 'invalid_request_error',
      param: 'webhook_url',
      code: 'invalid_url',
    });
  });
});

describe('a webhook target that turns private after the batch was created', () => {
  let stack: TestStack;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    // The API accepts any target here; the worker that delivers does not: as if the name had resolved to a
    // public address at creation and to loopback at delivery (DNS rebinding).
    stack = await startTestStack({ env: { WEBHOOK_ALLOW_INSECURE: 'true' } });
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await receiver.close();
    await stack.stop();
  });

  it('is refused at delivery, and the batch completes all the same', async () => {
    await stack.worker.stop();
    const strict = await startWorker(
      { ...stack.config, webhook: { ...stack.config.webhook, allowInsecure: false } },
      {
        temporalAddress: stack.temporalAddress,
        workflowBundle: { codePath: testTemporal().bundlePath },
        ...testTelemetry(),
      },
    );
    try {
      const file = await uploadLines(stack.client, [requestLine('r', '/v1/chat/completions')]);
      const target = new URL(receiver.url);
      const created = await stack.client.batches.create({
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
        webhook_url: `https://localhost:${target.port}/hook`,
      } as OpenAI.Batches.BatchCreateParams);
      const { batch } = await waitForBatch(stack.client, created.id);
      expect(batch.status).toBe('completed');

      const connection = await Connection.connect({ address: stack.temporalAddress });
      try {
        const handle = new Client({ connection }).workflow.getHandle(batch.id);
        await handle.result();
        const { events } = await handle.fetchHistory();
        const failures = (events ?? [])
          .map((e) => e.activityTaskFailedEventAttributes?.failure)
          .filter((f) => f !== undefined && f !== null);
        expect(failures).toHaveLength(1);
        expect(failures[0].message).toMatch(
          /^Refusing webhook target https:\/\/localhost:\d+\/hook: the address localhost \((127\.0\.0\.1|::1)\) is not public: loopback$/,
        );
        expect(failures[0].applicationFailureInfo).toMatchObject({ type: 'WebhookRefused', nonRetryable: true });
      } finally {
        await connection.close();
      }
      expect(receiver.received).toHaveLength(0);
    } finally {
      await strict.stop();
    }
  });
});
