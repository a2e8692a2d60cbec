/**
 * Pins what a batch's workflow shows while chunks run and what it does once the batch ends, with stub
 * activities on a real Temporal server: a running chunk's `chunkProgress` report moves the `getBatch` query,
 * the memo and the Web UI's current details (`getProgress` keeps it apart from finished chunks) until the
 * chunk's result replaces it, and a late report is ignored; each chunk activity carries its summary; the
 * e-mail goes out once the batch is final, beside a webhook that fails, and its failure changes nothing.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { Activities, ExecuteChunkOutput, NotifyBatchEndOutput } from '../../../activities';
import type { BatchRecord, BatchUsage } from '../../../common/batch';
import { keys, newFileId } from '../../../storage';
import type { batchWorkflow } from '../../../workflows';
import {
  BATCH_SUMMARY_MEMO,
  BATCH_WORKFLOW_TYPE,
  chunkProgressSignal,
  getBatchQuery,
  getProgressQuery,
} from '../../../workflows/definitions';
import { newBatchRecord } from '../../helpers/batch-record';
import { startLocalTemporal } from '../../helpers/workflow-env';

jest.setTimeout(60_000);

const usage = (n: number): BatchUsage => ({
  input_tokens: n,
  input_tokens_details: { cached_tokens: 0 },
  output_tokens: 2 * n,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: 3 * n,
});

/** What each stub does for one batch: chunks wait for their release; the rest is scripted per test. */
interface Stubs {
  chunkStarted: Set<number>;
  release: Map<number, (output: ExecuteChunkOutput) => void>;
  webhook: () => Promise<void>;
  notify: () => Promise<NotifyBatchEndOutput>;
  notified: BatchRecord[];
}

async function until<T>(read: () => Promise<T>, check: (value: T) => boolean, what: string): Promise<T> {
  const giveUp = Date.now() + 30_000;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > giveUp) throw new Error(`Still waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a batch between chunk ends, and after its end', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = 'batch-progress-test';
  const stubs = new Map<string, Stubs>();

  const activities: Activities = {
    validateInputFile: ({ record }) =>
      Promise.resolve({
        ok: true,
        total: 20,
        chunkCount: 2,
        chunkFirstLines: [0, 10],
        manifestKey: keys.batchManifest(record.batch.id),
        model: 'stub-model',
      }),
    async executeChunk({ batchId, chunkIndex }) {
      const s = stubs.get(batchId)!;
      s.chunkStarted.add(chunkIndex);
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 20);
      try {
        return await new Promise<ExecuteChunkOutput>((resolve) => s.release.set(chunkIndex, resolve));
      } finally {
        clearInterval(beat);
      }
    },
    finalizeBatch: ({ record, outcome }) =>
      Promise.resolve({
        ...record,
        batch: {
          ...record.batch,
          status: outcome,
          completed_at: record.batch.created_at + 1,
          output_file_id: 'file-out',
        },
      }),
    deliverWebhook: ({ record }) => stubs.get(record.batch.id)!.webhook(),
    notifyBatchEnd({ record }) {
      const s = stubs.get(record.batch.id)!;
      s.notified.push(record);
      return s.notify();
    },
  };

  beforeAll(async () => {
    env = await startLocalTemporal();
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: require.resolve('../../../workflows'),
      activities,
    });
    running = worker.run();
  }, 120_000);

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  }, 60_000);

  async function start(options: { webhookUrl?: string } = {}, script: Partial<Stubs> = {}) {
    const record = newBatchRecord({ inputFileId: newFileId(), webhookUrl: options.webhookUrl ?? null });
    const s: Stubs = {
      chunkStarted: new Set(),
      release: new Map(),
      webhook: () => Promise.resolve(),
      notify: () => Promise.resolve({ sent: true, alreadySent: false }),
      notified: [],
      ...script,
    };
    stubs.set(record.batch.id, s);
    const handle = await env.client.workflow.start<typeof batchWorkflow>(BATCH_WORKFLOW_TYPE, {
      taskQueue,
      workflowId: record.batch.id,
      args: [
        {
          record,
          options: {
            chunkMaxLines: 10,
            chunkMaxBytes: 1 << 20,
            chunkWindow: 2,
            maxRequests: 100,
            searchAttributes: true,
          },
        },
      ],
    });
    const bothRunning = () =>
      until(
        () => Promise.resolve(s.release.size),
        (n) => n === 2,
        'both chunks',
      );
    return { handle, stubs: s, bothRunning };
  }

  const details = async (handle: { query: (name: string) => Promise<unknown> }) =>
    ((await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string }).currentDetails ?? '';

  it("counts a running chunk's report in the query, memo and current details until its result replaces it", async () => {
    const { handle, stubs: s, bothRunning } = await start();
    await bothRunning();
    await handle.signal(chunkProgressSignal, { chunkIndex: 0, completed: 4, failed: 1, usage: usage(4) });

    const counts = async () => (await handle.query(getBatchQuery)).batch.request_counts;
    expect(await until(counts, (c) => c.completed === 4, 'the report in the query')).toEqual({
      total: 20,
      completed: 4,
      failed: 1,
    });
    expect((await handle.query(getBatchQuery)).batch.usage.total_tokens).toBe(12);
    const progress = await handle.query(getProgressQuery);
    expect(progress.record.batch.request_counts).toEqual({ total: 20, completed: 0, failed: 0 });
    expect(progress).toMatchObject({ finished: [], running: [{ chunkIndex: 0, completed: 4, failed: 1 }] });
    const memo = (await handle.describe()).memo?.[BATCH_SUMMARY_MEMO] as { request_counts: unknown };
    expect(memo.request_counts).toEqual({ total: 20, completed: 4, failed: 1 });
    expect(await details(handle)).toContain('5 of 20 requests done (25%): 4 completed, 1 failed');

    // An older report says less: it is not the chunk's latest.
    await handle.signal(chunkProgressSignal, { chunkIndex: 0, completed: 2, failed: 0, usage: usage(2) });
    s.release.get(0)!({ completed: 9, failed: 1, usage: usage(9), ranAll: true });
    const after = await until(
      () => handle.query(getProgressQuery),
      (p) => p.finished.length === 1,
      'chunk 0 in',
    );
    expect(after).toMatchObject({ finished: [0], running: [] });
    expect(after.record.batch.request_counts).toEqual({ total: 20, completed: 9, failed: 1 });
    // A report that arrives after the chunk's result is late, and changes nothing.
    await handle.signal(chunkProgressSignal, { chunkIndex: 0, completed: 3, failed: 0, usage: usage(3) });
    expect((await handle.query(getBatchQuery)).batch.request_counts).toEqual({ total: 20, completed: 9, failed: 1 });

    s.release.get(1)!({ completed: 10, failed: 0, usage: usage(10), ranAll: true });
    expect((await handle.result()).batch.request_counts).toEqual({ total: 20, completed: 19, failed: 1 });
    expect(await details(handle)).toContain('**completed**');

    const summaries = (await handle.fetchHistory())
      .events!.filter(
        (e) =>
          e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED &&
          e.activityTaskScheduledEventAttributes?.activityType?.name === 'executeChunk',
      )
      .map((e) => defaultPayloadConverter.fromPayload(e.userMetadata!.summary!));
    expect(summaries.sort()).toEqual(['chunk 1 of 2: requests 1–10', 'chunk 2 of 2: requests 11–20']);
  });

  it('e-mails once the batch is final, beside a webhook that fails; a failed e-mail changes nothing', async () => {
    const refused = () => Promise.reject(ApplicationFailure.nonRetryable('stub refuses', 'StubFailure'));
    const {
      handle,
      stubs: s,
      bothRunning,
    } = await start({ webhookUrl: 'https://example.org/hook' }, { webhook: refused, notify: refused });
    await bothRunning();
    expect(s.notified).toEqual([]);
    for (const chunk of [0, 1]) s.release.get(chunk)!({ completed: 10, failed: 0, usage: usage(1), ranAll: true });

    const result = await handle.result();
    expect(result.batch).toMatchObject({ status: 'completed', output_file_id: 'file-out' });
    expect(s.notified.map((r) => r.batch)).toEqual([result.batch]);
  });
});
