/**
 * Pins how batches share an upstream that queues rather than refuses (the fixture's capacity model: N slots,
 * a FIFO queue, no 429s): the ceiling holds for all workers together, a dead worker's share goes back to the
 * others, the earliest deadline goes first, and tenants share what is left fairly. Asserts order and
 * shares, never durations.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import OpenAI from 'openai';
import type { BudgetState } from '../../common/upstream-budget';
import { budgetQuery, UPSTREAM_BUDGET_WORKFLOW_TYPE } from '../../workflows/definitions';
import { startFixtureUpstream } from '../helpers/fixture-upstream';
import type { FixtureUpstream } from '../helpers/fixture-upstream';
import { freePort } from '../helpers/ports';
import { launch } from '../helpers/processes';
import type { LaunchedProcess } from '../helpers/processes';
import { createBatch, requestLine, startTestStack, testTemporal, waitForBatch } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';

jest.setTimeout(300_000);

const CHAT = '/v1/chat/completions';
const tagged = (id: string, tag: string) => requestLine(id, CHAT, { fixture: { tag } });

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Still waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Of the requests the server started in [from, to], the share whose tag is `tag`. */
function shareOf(upstream: FixtureUpstream, tag: string, from: number, to: number): number {
  const started = upstream.requests.filter((r) => r.startedAt !== null && r.startedAt >= from && r.startedAt <= to);
  return started.filter((r) => r.tag === tag).length / Math.max(1, started.length);
}

/** When the requests tagged `tag` first arrived and last ended. */
function spanOf(upstream: FixtureUpstream, tag: string): { from: number; to: number } {
  const mine = upstream.requests.filter((r) => r.tag === tag);
  return { from: Math.min(...mine.map((r) => r.arrivedAt)), to: Math.max(...mine.map((r) => r.endedAt ?? Infinity)) };
}

describe('two workers on one upstream', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      upstream: { slots: 40, serviceMs: 20 },
      env: { UPSTREAM_MAX_CONCURRENCY: '6', BATCH_CHUNK_MAX_LINES: '50' },
    });
    await stack.addWorker();
  });
  afterAll(() => stack.stop());

  it('keep the ceiling for the upstream as a whole, not each', async () => {
    const lines = Array.from({ length: 800 }, (_, i) => requestLine(`w-${i}`, CHAT));
    const created = await createBatch(stack.client, lines);
    const { batch } = await waitForBatch(stack.client, created.id, { timeoutMs: 200_000 });
    expect(batch.request_counts).toEqual({ total: 800, completed: 800, failed: 0 });
    // Each worker alone may send 6: together they never had more than 6 at the server.
    expect(stack.upstream.stats().maxServing).toBeLessThanOrEqual(6);
    expect(stack.upstream.stats().maxServing).toBeGreaterThan(1);
  });
});

describe('an earlier deadline', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      upstream: { slots: 2, serviceMs: 25 },
      env: { UPSTREAM_MAX_CONCURRENCY: '2', BATCH_COMPLETION_WINDOWS: '1h,24h' },
    });
  });
  afterAll(() => stack.stop());

  it('goes first: a 1h batch created while a 24h batch runs is served before it, and ends first', async () => {
    const { client, upstream } = stack;
    const day = await createBatch(
      client,
      Array.from({ length: 400 }, (_, i) => tagged(`day-${i}`, 'day')),
    );
    await until(() => upstream.requests.filter((r) => r.tag === 'day').length > 20, 'the 24h batch to run');
    const file = await client.files.create({
      file: await OpenAI.toFile(
        Buffer.from(Array.from({ length: 30 }, (_, i) => JSON.stringify(tagged(`hour-${i}`, 'hour'))).join('\n')),
        'hour.jsonl',
      ),
      purpose: 'batch',
    });
    // The SDK's type knows only OpenAI's '24h'; the API accepts the configured windows.
    const hour = await client.batches.create({
      input_file_id: file.id,
      endpoint: CHAT,
      completion_window: '1h' as '24h',
    });
    expect(hour.expires_at! - hour.created_at).toBe(3600);
    const { batch: hourDone } = await waitForBatch(client, hour.id);
    expect(hourDone.status).toBe('completed');
    expect((await client.batches.retrieve(day.id)).status).toBe('in_progress');
    const { from, to } = spanOf(upstream, 'hour');
    // While the 1h batch had requests, the server started almost only them (the 24h batch's in flight
    // when it arrived may finish).
    expect(shareOf(upstream, 'hour', from, to)).toBeGreaterThanOrEqual(0.85);
    await waitForBatch(client, day.id, { timeoutMs: 200_000 });
  });

  it('refuses a window that is not configured', async () => {
    const file = await stack.client.files.create({
      file: await OpenAI.toFile(Buffer.from(JSON.stringify(requestLine('x', CHAT))), 'x.jsonl'),
      purpose: 'batch',
    });
    const err = (await stack.client.batches
      .create({ input_file_id: file.id, endpoint: CHAT, completion_window: '7d' as '24h' })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.error).toMatchObject({ param: 'completion_window', code: 'invalid_value' });
    expect(err.message).toContain("Supported values are: '1h', '24h'");
  });
});

describe('tenants', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      upstream: { slots: 2, serviceMs: 25 },
      env: { UPSTREAM_MAX_CONCURRENCY: '2', API_KEYS: 'sk-big,sk-small' },
    });
  });
  afterAll(() => stack.stop());

  it('share the capacity evenly, however many batches each runs', async () => {
    const { upstream } = stack;
    const big = new OpenAI({ baseURL: stack.client.baseURL, apiKey: 'sk-big' });
    const small = new OpenAI({ baseURL: stack.client.baseURL, apiKey: 'sk-small' });
    const bigBatches = await Promise.all(
      [0, 1, 2].map((b) =>
        createBatch(
          big,
          Array.from({ length: 200 }, (_, i) => tagged(`b${b}-${i}`, 'big')),
        ),
      ),
    );
    await until(() => upstream.requests.filter((r) => r.tag === 'big').length > 20, "the big tenant's batches");
    const mine = await createBatch(
      small,
      Array.from({ length: 60 }, (_, i) => tagged(`s-${i}`, 'small')),
    );
    const { batch } = await waitForBatch(small, mine.id, { timeoutMs: 200_000 });
    expect(batch.status).toBe('completed');
    const { from, to } = spanOf(upstream, 'small');
    // Half of the capacity for each tenant; round-robin between the four batches would give it a quarter.
    expect(shareOf(upstream, 'small', from, to)).toBeGreaterThanOrEqual(0.4);
    for (const b of bigBatches) await waitForBatch(big, b.id, { timeoutMs: 200_000 });
  });
});

describe('a batch that cannot make its deadline', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      upstream: { slots: 1, serviceMs: 50 },
      env: { UPSTREAM_MAX_CONCURRENCY: '1', BATCH_COMPLETION_WINDOW_SECONDS: '20', BATCH_CHUNK_MAX_LINES: '10' },
    });
  });
  afterAll(() => stack.stop());

  it('is shown at risk before it expires: search attribute, memo and metric', async () => {
    // 1,000 requests at 20 a second need 50 s; the window is 20 s.
    const created = await createBatch(
      stack.client,
      Array.from({ length: 1000 }, (_, i) => requestLine(`r-${i}`, CHAT)),
    );
    const connection = await Connection.connect({ address: stack.temporalAddress });
    try {
      const handle = new Client({ connection }).workflow.getHandle(created.id);
      let described = await handle.describe();
      await until(async () => {
        described = await handle.describe();
        return described.searchAttributes.BatchAtRisk?.[0] === true;
      }, 'the batch to be at risk');
      expect(described.status.name).toBe('RUNNING');
      expect(await described.memo?.summary).toMatchObject({ status: 'in_progress', at_risk: true });
      const metrics = await (await fetch(`${stack.api.url}/metrics`)).text();
      expect(Number(/^batch_batches_at_risk (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);

      const { batch } = await waitForBatch(stack.client, created.id, { timeoutMs: 120_000 });
      expect(batch.status).toBe('expired');
      // Cleared once it ended (the workflow publishes after finalize; visibility follows).
      await until(async () => (await handle.describe()).searchAttributes.BatchAtRisk?.[0] === false, 'the clear');
    } finally {
      await connection.close();
    }
  });
});

describe('a worker that dies', () => {
  let upstream: FixtureUpstream;
  let dataDir: string;
  const procs: LaunchedProcess[] = [];
  beforeAll(async () => {
    upstream = await startFixtureUpstream({ slots: 40, serviceMs: 100 });
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'budget-crash-'));
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    await upstream.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('gives its share of the upstream back to the others', async () => {
    const port = await freePort();
    const taskQueue = `budget-crash-${port}`;
    const env = {
      DATA_DIR: dataDir,
      PORT: String(port),
      TEMPORAL_ADDRESS: testTemporal().address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      UPSTREAM_BASE_URL: upstream.baseUrl,
      UPSTREAM_MAX_CONCURRENCY: '6',
      BATCH_CHUNK_MAX_LINES: '100',
      WORKER_METRICS_PORT: '0',
      AUTH_DISABLED: 'true',
    };
    for (const mode of ['worker', 'worker', 'api'] as const) {
      const p = launch(mode, env);
      procs.push(p);
      await p.waitFor(mode === 'api' ? /API listening on/ : /Worker polling task queue/);
    }
    const client = new OpenAI({ baseURL: `http://localhost:${port}/v1`, apiKey: 'unused' });
    const created = await createBatch(
      client,
      Array.from({ length: 1500 }, (_, i) => requestLine(`c-${i}`, CHAT)),
    );

    const connection = await Connection.connect({ address: testTemporal().address });
    try {
      const temporal = new Client({ connection });
      const query = `WorkflowType='${UPSTREAM_BUDGET_WORKFLOW_TYPE}' AND TaskQueue='${taskQueue}'`;
      let workflowId = '';
      await until(async () => {
        workflowId = (await collect(temporal.workflow.list({ query })))[0]?.workflowId ?? '';
        return workflowId !== '';
      }, 'the budget workflow');
      const budget = () => temporal.workflow.getHandle(workflowId).query(budgetQuery);
      const sharing = (state: BudgetState) => state.leases.filter((l) => l.share > 0);
      await until(async () => sharing(await budget()).length === 2, 'both workers to hold a share');
      expect(sharing(await budget()).reduce((sum, l) => sum + l.share, 0)).toBeLessThanOrEqual(6);

      await procs[0].kill();
      // Its lease runs out; the survivor's next renewal gets the whole ceiling.
      await until(async () => {
        const state = await budget();
        return state.leases.length === 1 && state.leases[0].share === 6;
      }, 'the survivor to get the whole share');
      upstream.resetStats();
      await until(() => upstream.stats().maxServing === 6, 'the survivor to use it');
    } finally {
      await connection.close();
    }
    const { batch } = await waitForBatch(client, created.id, { timeoutMs: 250_000 });
    expect(batch.request_counts).toMatchObject({ total: 1500, failed: 0 });
  });
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}
