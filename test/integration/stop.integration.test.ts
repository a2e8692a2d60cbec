/**
 * Pins how a batch stops early: at the end of its completion window (a Temporal timer, shortened by
 * BATCH_COMPLETION_WINDOW_SECONDS) it expires, and on cancel it goes `cancelling` → `cancelled`; either way
 * finished results are kept and every request that never ran is an error line with `response: null`.
 */
import type OpenAI from 'openai';
import {
  createBatch,
  downloadLines,
  replayHistories,
  requestLine,
  startTestStack,
  uploadLines,
  waitForBatch,
  waitForCompleted,
} from '../helpers/stack';
import type { TestStack } from '../helpers/stack';
import { temporalCli } from '../helpers/temporal-cli';
import { startWebhookReceiver } from '../helpers/webhook-receiver';

jest.setTimeout(120_000);

const finished: Record<string, string> = {};
afterAll(() => replayHistories(finished));

async function resultLines(client: OpenAI, batch: OpenAI.Batches.Batch) {
  const output = batch.output_file_id ? await downloadLines(client, batch.output_file_id) : [];
  const errors = batch.error_file_id ? await downloadLines(client, batch.error_file_id) : [];
  return { output, errors };
}

describe('a batch that runs out of time', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      upstream: { latencyMs: 400 },
      env: {
        BATCH_COMPLETION_WINDOW_SECONDS: '4',
        UPSTREAM_MAX_CONCURRENCY: '2',
        WEBHOOK_SECRET: 'whsec_c2VjcmV0LWZvci10ZXN0cw==',
        WEBHOOK_ALLOW_INSECURE: 'true',
      },
    });
  });
  afterAll(() => stack.stop());

  it('expires at the deadline, keeping what finished and reporting the rest as batch_expired', async () => {
    const { client } = stack;
    const receiver = await startWebhookReceiver();
    const lines = Array.from({ length: 40 }, (_, i) => requestLine(`e-${i}`, '/v1/chat/completions'));
    const file = await uploadLines(client, lines);
    const created = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      webhook_url: receiver.url,
    } as OpenAI.Batches.BatchCreateParams);
    expect(created.expires_at).toBe(created.created_at + 4);
    const { batch } = await waitForBatch(client, created.id);
    expect(batch.status).toBe('expired');
    finished.expired = batch.id;
    expect(batch.expired_at).toBeGreaterThanOrEqual(created.expires_at!);
    expect(batch.completed_at).toBeNull();

    const { output, errors } = await resultLines(client, batch);
    expect(output.length).toBeGreaterThan(0);
    expect(output.length).toBeLessThan(40);
    expect(batch.request_counts).toEqual({ total: 40, completed: output.length, failed: errors.length });
    expect([...output, ...errors].map((l) => l.custom_id).sort()).toEqual(lines.map((l) => l.custom_id).sort());
    for (const line of errors) {
      expect(line).toEqual({
        id: expect.stringMatching(/^batch_req_/),
        custom_id: expect.any(String),
        response: null,
        error: {
          code: 'batch_expired',
          message: 'This request could not be executed before the completion window expired.',
        },
      });
    }

    const refused = await client.batches.cancel(batch.id).catch((e: unknown) => e);
    expect((refused as { status?: number }).status).toBe(409);
    expect((refused as Error).message).toContain("Cannot cancel a batch with status 'expired'.");

    const [delivered] = await receiver.waitForDeliveries(1);
    const event = await client.webhooks.unwrap(delivered.body, delivered.headers, 'whsec_c2VjcmV0LWZvci10ZXN0cw==');
    expect(event).toMatchObject({ type: 'batch.expired', data: { id: batch.id, status: 'expired' } });
    await receiver.close();
  });

  it('expires when every chunk is in flight at the deadline', async () => {
    // Fewer lines than the window has places: one chunk per line, all running, none able to finish. Each
    // chunk stops by itself at the deadline and returns, racing the workflow's timer: when the chunks win
    // (a loaded machine), the batch must still expire, not complete with requests that never ran.
    const lines = Array.from({ length: 6 }, (_, i) =>
      requestLine(`r-${i}`, '/v1/chat/completions', { fixture: { delay_ms: 30_000 } }),
    );
    const created = await createBatch(stack.client, lines);
    const { batch } = await waitForBatch(stack.client, created.id);
    expect(batch.status).toBe('expired');
    expect(batch.completed_at).toBeNull();
    expect(batch.request_counts).toEqual({ total: 6, completed: 0, failed: 6 });
    const { output, errors } = await resultLines(stack.client, batch);
    expect(output).toEqual([]);
    expect(errors.map((l) => l.error.code)).toEqual(Array(6).fill('batch_expired'));
  });
});

describe('a cancelled batch', () => {
  let stack: TestStack;
  beforeAll(async () => {
    // Chunks of 2 lines, so that counts move (waitForCompleted) long before the batch ends.
    stack = await startTestStack({
      upstream: { latencyMs: 300 },
      env: { UPSTREAM_MAX_CONCURRENCY: '2', BATCH_CHUNK_MAX_LINES: '2' },
    });
  });
  afterAll(() => stack.stop());

  it('goes cancelling → cancelled with partial results, and cancelling again returns it', async () => {
    const { client } = stack;
    const lines = Array.from({ length: 40 }, (_, i) => requestLine(`c-${i}`, '/v1/chat/completions'));
    const created = await createBatch(client, lines);
    await waitForCompleted(client, created.id, 2);
    const cancelling = await client.batches.cancel(created.id);
    expect(['cancelling', 'cancelled']).toContain(cancelling.status);
    expect(Number.isInteger(cancelling.cancelling_at)).toBe(true);

    const { batch } = await waitForBatch(client, created.id);
    expect(batch.status).toBe('cancelled');
    finished.cancelled = batch.id;
    expect(batch.cancelling_at).toBe(cancelling.cancelling_at);
    expect(Number.isInteger(batch.cancelled_at)).toBe(true);

    const { output, errors } = await resultLines(client, batch);
    expect(output.length).toBeGreaterThanOrEqual(2);
    expect(output.length).toBeLessThan(40);
    expect(batch.request_counts).toEqual({ total: 40, completed: output.length, failed: errors.length });
    expect([...output, ...errors].map((l) => l.custom_id).sort()).toEqual(lines.map((l) => l.custom_id).sort());
    expect(errors.every((l) => l.response === null && l.error.code === 'batch_cancelled')).toBe(true);

    // The upstream saw no request after the batch was cancelled (in-flight ones were aborted).
    const sent = stack.upstream.requestCount;
    await new Promise((r) => setTimeout(r, 800));
    expect(stack.upstream.requestCount).toBe(sent);

    expect(await client.batches.cancel(created.id)).toEqual(batch);
  });

  it('is cancelled when the cancel arrives right after creation', async () => {
    const { client } = stack;
    const lines = Array.from({ length: 40 }, (_, i) => requestLine(`v-${i}`, '/v1/chat/completions'));
    const created = await createBatch(client, lines);
    const cancelling = await client.batches.cancel(created.id);
    expect(cancelling.status).toBe('cancelling');
    const { batch } = await waitForBatch(client, created.id);
    expect(batch.status).toBe('cancelled');
    const { output, errors } = await resultLines(client, batch);
    expect([...output, ...errors].map((l) => l.custom_id).sort()).toEqual(lines.map((l) => l.custom_id).sort());
    expect(batch.request_counts!.completed).toBeLessThan(40);
  });

  it('is cancelled by `temporal workflow cancel`, the runbook command, with its results kept', async () => {
    const { client } = stack;
    const lines = Array.from({ length: 40 }, (_, i) => requestLine(`t-${i}`, '/v1/chat/completions'));
    const created = await createBatch(client, lines);
    await waitForCompleted(client, created.id, 2);
    await temporalCli(stack.temporalAddress, 'workflow', 'cancel', '--workflow-id', created.id);
    const { batch } = await waitForBatch(client, created.id);
    expect(batch.status).toBe('cancelled');
    finished.cancelledByTemporal = batch.id;
    expect(Number.isInteger(batch.cancelling_at)).toBe(true);
    const { output, errors } = await resultLines(client, batch);
    expect(output.length).toBeGreaterThanOrEqual(2);
    expect(batch.request_counts).toEqual({ total: 40, completed: output.length, failed: errors.length });
    expect([...output, ...errors].map((l) => l.custom_id).sort()).toEqual(lines.map((l) => l.custom_id).sort());
    expect(errors.every((l) => l.error.code === 'batch_cancelled')).toBe(true);
  });
});
