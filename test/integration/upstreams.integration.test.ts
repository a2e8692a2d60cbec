/**
 * Pins how batches treat their upstreams: injected faults (500s, 429s with Retry-After, connection resets,
 * slow bodies) end every request as a 200 line or an error line with its reason, none lost and none twice;
 * MODEL_ROUTES sends each line to the upstream serving its model under that upstream's own cap; and two
 * workers on one task queue share the chunks of a batch.
 */
import { Client, Connection } from '@temporalio/client';
import { downloadLines, requestLine, startTestStack, waitForBatch, createBatch } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';
import { startFixtureUpstream } from '../helpers/fixture-upstream';
import type { FixtureUpstream } from '../helpers/fixture-upstream';

jest.setTimeout(180_000);

async function runBatch(stack: TestStack, lines: Record<string, unknown>[]) {
  const created = await createBatch(stack.client, lines);
  const { batch } = await waitForBatch(stack.client, created.id, { timeoutMs: 150_000 });
  const output = batch.output_file_id ? await downloadLines(stack.client, batch.output_file_id) : [];
  const errors = batch.error_file_id ? await downloadLines(stack.client, batch.error_file_id) : [];
  return { batch, output, errors };
}

describe('an unreliable upstream', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      upstream: {
        latencyMs: 5,
        faults: { status500: 0.1, status429: 0.05, reset: 0.01, slowBody: 0.02 },
        retryAfterSeconds: 1,
        seed: 7,
      },
      env: { UPSTREAM_MAX_CONCURRENCY: '16' },
    });
  });
  afterAll(() => stack.stop());

  it('ends every request once, as a 200 line or an error line with its reason', async () => {
    const lines = Array.from({ length: 2000 }, (_, i) => requestLine(`f-${i}`, '/v1/chat/completions'));
    const { batch, output, errors } = await runBatch(stack, lines);
    expect(batch.status).toBe('completed');
    const ids = [...output, ...errors].map((l) => l.custom_id);
    expect(ids.sort()).toEqual(lines.map((l) => l.custom_id).sort());
    expect(batch.request_counts).toEqual({ total: 2000, completed: output.length, failed: errors.length });
    expect(output.every((l) => l.response.status_code === 200 && l.error === null)).toBe(true);
    for (const line of errors) {
      // An upstream answer after the last retry, or a reason the request got none.
      expect(line.response?.status_code ?? line.error?.code).toBeTruthy();
    }
    const faults = stack.upstream.requestCount - 2000;
    console.log(`2000 requests, ${faults} retried faults, ${errors.length} error lines`);
    expect(faults).toBeGreaterThan(200);
  });
});

describe('MODEL_ROUTES', () => {
  let stack: TestStack;
  let special: FixtureUpstream;
  beforeAll(async () => {
    special = await startFixtureUpstream({ latencyMs: 30 });
    stack = await startTestStack({
      upstream: { latencyMs: 5 },
      env: {
        UPSTREAM_MAX_CONCURRENCY: '32',
        MODEL_ROUTES: JSON.stringify({ 'special-model': { baseUrl: special.baseUrl, maxConcurrency: 2 } }),
      },
    });
  });
  afterAll(async () => {
    await stack.stop();
    await special.close();
  });

  it('sends each line to the upstream of its model, under that upstream own cap', async () => {
    const lines = Array.from({ length: 200 }, (_, i) =>
      requestLine(`m-${i}`, '/v1/chat/completions', {}, i % 4 === 0 ? 'special-model' : 'fixture-model'),
    );
    const { batch, output } = await runBatch(stack, lines);
    expect(batch.request_counts).toEqual({ total: 200, completed: 200, failed: 0 });
    expect(special.requests.length).toBe(50);
    expect(stack.upstream.requests.length).toBe(150);
    expect(special.maxInFlight).toBeLessThanOrEqual(2);
    expect(stack.upstream.maxInFlight).toBeGreaterThan(2);
    const models = new Map(output.map((l) => [l.custom_id, l.response.body.model]));
    expect(models.get('m-4')).toBe('special-model');
    expect(models.get('m-5')).toBe('fixture-model');
  });
});

/** How many activities of each type the batch's workflow started, and on which worker each ran. */
async function activitiesOf(stack: TestStack, batchId: string) {
  const connection = await Connection.connect({ address: stack.temporalAddress });
  try {
    const handle = new Client({ connection }).workflow.getHandle(batchId);
    // The API may answer from batch.json (written by finalize) before the workflow has recorded finalize's end.
    await handle.result();
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    const typeOf = new Map<string, string>();
    const started: { type: string; identity: string }[] = [];
    for (const event of events) {
      const scheduled = event.activityTaskScheduledEventAttributes;
      if (scheduled) typeOf.set(String(event.eventId), scheduled.activityType?.name ?? '?');
      const start = event.activityTaskStartedEventAttributes;
      if (start) {
        started.push({ type: typeOf.get(String(start.scheduledEventId)) ?? '?', identity: start.identity ?? '?' });
      }
    }
    return started;
  } finally {
    await connection.close();
  }
}

describe('chunk sizes', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ upstream: { latencyMs: 1 } });
  });
  afterAll(() => stack.stop());

  it('runs a 20-request batch as one chunk activity', async () => {
    const lines = Array.from({ length: 20 }, (_, i) => requestLine(`small-${i}`, '/v1/chat/completions'));
    const { batch } = await runBatch(stack, lines);
    expect(batch.request_counts).toEqual({ total: 20, completed: 20, failed: 0 });
    const types = (await activitiesOf(stack, batch.id)).map((a) => a.type);
    expect(types.filter((t) => t === 'executeChunk')).toHaveLength(1);
    expect(types).toEqual(['validateInputFile', 'executeChunk', 'finalizeBatch', 'notifyBatchEnd']);
  });
});

describe('two workers on one task queue', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      upstream: { latencyMs: 10 },
      env: { UPSTREAM_MAX_CONCURRENCY: '8', BATCH_CHUNK_MAX_LINES: '50' },
    });
    await stack.addWorker();
  });
  afterAll(() => stack.stop());

  it('share the chunks of a batch: both take part', async () => {
    const lines = Array.from({ length: 1000 }, (_, i) => requestLine(`s-${i}`, '/v1/chat/completions'));
    const { batch } = await runBatch(stack, lines);
    expect(batch.request_counts).toEqual({ total: 1000, completed: 1000, failed: 0 });

    const chunks = (await activitiesOf(stack, batch.id)).filter((a) => a.type === 'executeChunk');
    const byWorker = new Map<string, number>();
    for (const { identity } of chunks) byWorker.set(identity, (byWorker.get(identity) ?? 0) + 1);
    console.log('chunks started per worker:', Object.fromEntries(byWorker));
    // Every chunk ran once, and neither worker was left idle; how they split is the OS's business.
    expect(chunks.length).toBeGreaterThanOrEqual(20);
    expect(byWorker.size).toBe(2);
  });
});
