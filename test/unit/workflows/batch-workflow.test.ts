/**
 * Pins the decisions of `batchWorkflow`, run by a real Temporal server and worker with stub activities:
 * which terminal status a batch gets (failure > cancel > expiry > completed), when a cancel is accepted or
 * refused (the `cancelBatch` update, and a cancel request from `temporal workflow cancel` or the Web UI),
 * what the `getBatch` query answers, how chunk results add up, and how many chunks run at once.
 */
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type {
  Activities,
  ExecuteChunkInput,
  ExecuteChunkOutput,
  FinalizeBatchInput,
  NotifyBatchEndOutput,
  ValidateInputFileOutput,
} from '../../../activities';
import type { BatchRecord, BatchUsage, BatchWorkflowInput } from '../../../common/batch';
import type { BatchOutcome } from '../../../common/batch-lifecycle';
import { keys, newFileId } from '../../../storage';
import type { batchWorkflow } from '../../../workflows';
import {
  BATCH_NOT_CANCELLABLE,
  BATCH_STATUS,
  BATCH_SUMMARY_MEMO,
  BATCH_WORKFLOW_TYPE,
  cancelBatchUpdate,
  getBatchQuery,
} from '../../../workflows/definitions';
import { newBatchRecord } from '../../helpers/batch-record';
import { startLocalTemporal } from '../../helpers/workflow-env';

jest.setTimeout(60_000);

const { EventType } = temporal.api.enums.v1;

/** What the stub activities of one batch do; `start` fills in the happy path for what a test leaves out. */
interface Script {
  validate(): Promise<ValidateInputFileOutput>;
  chunk(input: ExecuteChunkInput): Promise<ExecuteChunkOutput>;
  finalize(input: FinalizeBatchInput): Promise<BatchRecord>;
  webhook(record: BatchRecord): Promise<void>;
  notify(record: BatchRecord): Promise<NotifyBatchEndOutput>;
}

/** What the stub activities saw of one batch. */
interface Trace {
  /**
   * In order: `validate`; `chunk <i>` when a chunk starts and `chunk <i> <how it ended>`; `finalize <outcome>`;
   * `webhook <status>`.
   */
  events: string[];
  chunkInputs: ExecuteChunkInput[];
  finalized: FinalizeBatchInput[];
  webhooks: BatchRecord[];
  /** The status of each batch-end e-mail attempt, in order. */
  notified: string[];
  /** Chunks in flight now, and the most at once. */
  inFlight: number;
  peak: number;
}

interface Latch {
  released: Promise<void>;
  release(): void;
}

function latch(): Latch {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  return { released, release };
}

/**
 * Inside a stub activity: heartbeats (so a cancel reaches it) until `released` resolves; throws the
 * activity's CancelledFailure if it is cancelled first. Without `released`, waits for the cancel.
 */
function hold(released: Promise<void> = new Promise<never>(() => undefined)): Promise<void> {
  const ctx = Context.current();
  const beat = setInterval(() => ctx.heartbeat(), 20);
  return Promise.race([released, ctx.cancelled]).finally(() => clearInterval(beat));
}

/** Waits until `check` holds (polling); the bound is a safety net, not an assertion on time. */
async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const giveUp = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > giveUp) throw new Error(`Still waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function usage(n: number): BatchUsage {
  return {
    input_tokens: 10 * n,
    input_tokens_details: { cached_tokens: n },
    output_tokens: 20 * n,
    output_tokens_details: { reasoning_tokens: 2 * n },
    total_tokens: 30 * n,
  };
}

/** A chunk result that ran all its lines. */
function ran(completed: number, failed = 0): ExecuteChunkOutput {
  return { completed, failed, usage: usage(completed), ranAll: true };
}

/** The terminal record a finalize makes of `record`: its status is the outcome (stamped with a fixed time). */
function terminal(record: BatchRecord, outcome: BatchOutcome): BatchRecord {
  return { ...record, batch: { ...record.batch, status: outcome, [`${outcome}_at`]: record.batch.created_at + 1 } };
}

/** The activities' own failure for a problem no retry fixes. */
function permanent(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'StubFailure');
}

const LINES_PER_CHUNK = 10;
const MODEL = 'stub-model';

describe('batchWorkflow', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = 'batch-workflow-test';
  const batches = new Map<string, { script: Script; trace: Trace }>();

  const batchOf = (batchId: string) => {
    const found = batches.get(batchId);
    if (found === undefined) throw new Error(`No script for ${batchId}`);
    return found;
  };

  /** Records each call into the batch's trace and does what its script says. */
  const activities: Activities = {
    async validateInputFile({ record }) {
      const { script, trace } = batchOf(record.batch.id);
      trace.events.push('validate');
      return script.validate();
    },
    async executeChunk(input) {
      const { script, trace } = batchOf(input.batchId);
      trace.events.push(`chunk ${input.chunkIndex}`);
      trace.chunkInputs.push(input);
      trace.peak = Math.max(trace.peak, ++trace.inFlight);
      try {
        const output = await script.chunk(input);
        trace.events.push(`chunk ${input.chunkIndex} ${output.ranAll ? 'ran all' : 'cut short'}`);
        return output;
      } catch (err) {
        trace.events.push(`chunk ${input.chunkIndex} ${err instanceof CancelledFailure ? 'cancelled' : 'failed'}`);
        throw err;
      } finally {
        trace.inFlight--;
      }
    },
    async finalizeBatch(input) {
      const { script, trace } = batchOf(input.record.batch.id);
      trace.events.push(`finalize ${input.outcome}`);
      trace.finalized.push(structuredClone(input));
      return script.finalize(input);
    },
    async deliverWebhook({ record }) {
      const { script, trace } = batchOf(record.batch.id);
      trace.events.push(`webhook ${record.batch.status}`);
      trace.webhooks.push(structuredClone(record));
      return script.webhook(record);
    },
    async notifyBatchEnd({ record }) {
      const { script, trace } = batchOf(record.batch.id);
      trace.notified.push(record.batch.status);
      return script.notify(record);
    },
  };

  beforeAll(async () => {
    env = await startLocalTemporal();
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: require.resolve('../../../workflows'),
      activities,
      // A cancel reaches an activity with its next heartbeat: let them through at once.
      maxHeartbeatThrottleInterval: '20ms',
    });
    running = worker.run();
  }, 120_000);

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  }, 60_000);

  interface StartOptions {
    chunks?: number;
    chunkWindow?: number;
    /** The batch's deadline, from now; negative for one already passed. */
    expiresInSeconds?: number;
    webhookUrl?: string | null;
  }

  /** Starts a batch whose activities follow `script` (the happy path where it says nothing). */
  async function start(script: Partial<Script> = {}, options: StartOptions = {}) {
    const { chunks = 1, chunkWindow = 4, expiresInSeconds = 3600, webhookUrl = null } = options;
    const input = batchInput({ chunkWindow, expiresInSeconds, webhookUrl });
    const batchId = input.record.batch.id;
    const manifestKey = keys.batchManifest(batchId);
    const trace: Trace = {
      events: [],
      chunkInputs: [],
      finalized: [],
      webhooks: [],
      notified: [],
      inFlight: 0,
      peak: 0,
    };
    const happy: Script = {
      validate: () =>
        Promise.resolve({ ok: true, total: chunks * LINES_PER_CHUNK, chunkCount: chunks, manifestKey, model: MODEL }),
      chunk: () => Promise.resolve(ran(LINES_PER_CHUNK)),
      finalize: ({ record, outcome }) => Promise.resolve(terminal(record, outcome)),
      webhook: () => Promise.resolve(),
      notify: () => Promise.resolve({ sent: true, alreadySent: false }),
    };
    batches.set(batchId, { script: { ...happy, ...script }, trace });
    const handle = await env.client.workflow.start<typeof batchWorkflow>(BATCH_WORKFLOW_TYPE, {
      taskQueue,
      workflowId: batchId,
      args: [input],
    });
    const status = async () => (await handle.query(getBatchQuery)).batch.status;
    return { handle, trace, input, manifestKey, status };
  }

  /** A new batch as the API starts it, with the given knobs; the search attributes are registered. */
  function batchInput(o: { chunkWindow: number; expiresInSeconds: number; webhookUrl: string | null }) {
    const input: BatchWorkflowInput = {
      record: newBatchRecord({
        inputFileId: newFileId(),
        expiresInSeconds: o.expiresInSeconds,
        webhookUrl: o.webhookUrl,
      }),
      options: {
        chunkMinLines: 1,
        chunkMaxLines: LINES_PER_CHUNK,
        chunkMaxBytes: 1 << 20,
        chunkWindow: o.chunkWindow,
        maxRequests: 50_000,
        maxLineBytes: 1 << 20,
        searchAttributes: true,
      },
    };
    return input;
  }

  /** Sends the cancel update and expects the refusal the API turns into 409. */
  async function expectCancelRefused(handle: WorkflowHandle<typeof batchWorkflow>) {
    const err = await handle.executeUpdate(cancelBatchUpdate).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (err as WorkflowUpdateFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause).toMatchObject({ type: BATCH_NOT_CANCELLABLE, nonRetryable: true });
  }

  const chunkEvents = (trace: Trace) => trace.events.filter((e) => e.startsWith('chunk '));

  describe('a batch that runs to the end', () => {
    it('validates, runs every chunk once with the batch deadline, sums their counts and usage, then finalizes as completed', async () => {
      const { handle, trace, input, manifestKey } = await start(
        { chunk: ({ chunkIndex }) => Promise.resolve(ran(LINES_PER_CHUNK - chunkIndex, chunkIndex)) },
        { chunks: 3, chunkWindow: 2 },
      );
      const result = await handle.result();

      expect(trace.events[0]).toBe('validate');
      expect(trace.events.slice(-1)).toEqual(['finalize completed']); // no webhook URL, no webhook
      expect(trace.chunkInputs.map((c) => c.chunkIndex).sort()).toEqual([0, 1, 2]);
      const { batch } = input.record;
      for (const chunk of trace.chunkInputs) {
        expect(chunk).toEqual({
          batchId: batch.id,
          inputFileId: batch.input_file_id,
          manifestKey,
          chunkIndex: chunk.chunkIndex,
          deadlineMs: batch.expires_at! * 1000,
          // Who the batch is for and its deadline classes: the worker's limiter orders chunks by them.
          tenant: input.record.owner,
          tenantWeight: 1,
          deadlineClasses: input.options.deadlineClasses ?? [],
        });
      }

      expect(trace.finalized).toHaveLength(1);
      const [finalize] = trace.finalized;
      expect(finalize.outcome).toBe('completed');
      expect(finalize.manifestKey).toBe(manifestKey);
      expect(finalize.record.batch).toMatchObject({
        status: 'finalizing',
        model: MODEL,
        errors: null,
        request_counts: { total: 30, completed: 10 + 9 + 8, failed: 0 + 1 + 2 },
        usage: usage(10 + 9 + 8),
      });
      expect(finalize.record.batch.in_progress_at).not.toBeNull();
      expect(finalize.record.batch.finalizing_at).not.toBeNull();
      expect(result).toEqual(terminal(finalize.record, 'completed'));
    });

    it('keeps no more than chunkWindow chunks in flight, starts them in order, and fills the window as chunks end', async () => {
      const chunks = 7;
      const chunkWindow = 3;
      const gates = Array.from({ length: chunks }, latch);
      const { handle, trace } = await start(
        {
          chunk: async ({ chunkIndex }) => {
            await hold(gates[chunkIndex].released);
            return ran(1);
          },
        },
        { chunks, chunkWindow },
      );
      // Chunks scheduled in one workflow task may reach the worker in any order: compare sets.
      const started = () => trace.chunkInputs.map((c) => c.chunkIndex).sort((a, b) => a - b);
      const firstN = (n: number) => Array.from({ length: n }, (_, i) => i);
      for (let ended = 0; ended < chunks; ended++) {
        const expected = Math.min(chunkWindow, chunks - ended);
        await until(
          () => started().length === ended + expected && trace.inFlight === expected,
          `${ended} chunks ended and ${expected} in flight`,
        );
        expect(started()).toEqual(firstN(ended + expected)); // the next chunk is always the lowest not yet run
        gates[ended].release(); // the lowest in flight ends; the window may start one more
      }
      const result = await handle.result();

      expect(started()).toEqual(firstN(chunks));
      expect(trace.peak).toBe(chunkWindow);
      expect(result.batch).toMatchObject({
        status: 'completed',
        request_counts: { total: 70, completed: 7, failed: 0 },
      });
    });

    it('answers the query with the live record: validating, then in progress with the counts of ended chunks, then terminal', async () => {
      const validating = latch();
      const validated = latch();
      const second = latch();
      const { handle, trace, status } = await start(
        {
          validate: async () => {
            validating.release();
            await hold(validated.released);
            return { ok: true, total: 20, chunkCount: 2, manifestKey: 'm', model: MODEL };
          },
          chunk: async ({ chunkIndex }) => {
            if (chunkIndex === 1) await hold(second.released);
            return ran(chunkIndex === 0 ? 6 : 10, chunkIndex === 0 ? 4 : 0);
          },
        },
        { chunks: 2, chunkWindow: 1 },
      );
      await validating.released;
      const early = await handle.query(getBatchQuery);
      expect(early.batch).toMatchObject({ status: 'validating', model: null, request_counts: { total: 0 } });
      expect(early.owner).toBe('tenant-test');

      validated.release();
      await until(() => trace.events.includes('chunk 1'), 'chunk 1 started');
      const live = await handle.query(getBatchQuery);
      expect(live.batch).toMatchObject({
        status: 'in_progress',
        model: MODEL,
        request_counts: { total: 20, completed: 6, failed: 4 },
        usage: usage(6),
      });
      expect(live.batch.in_progress_at).not.toBeNull();
      expect(await status()).toBe('in_progress');

      second.release();
      const result = await handle.result();
      expect(await handle.query(getBatchQuery)).toEqual(result);
      expect(result.batch.status).toBe('completed');
    });

    it('publishes the status in the BatchStatus search attribute and the summary memo', async () => {
      const { handle } = await start({}, { chunks: 2 });
      await handle.result();
      const described = await handle.describe();
      expect(described.typedSearchAttributes.get(BATCH_STATUS)).toBe('completed');
      expect(described.memo).toMatchObject({
        [BATCH_SUMMARY_MEMO]: { status: 'completed', request_counts: { total: 20, completed: 20, failed: 0 } },
      });
    });
  });

  describe('the outcome', () => {
    it('is failed, with the validation errors and no chunk run, when the input file is invalid', async () => {
      const errors = [
        { code: 'invalid_json_line', message: 'Line 2 is not JSON.', param: null, line: 2 },
        { code: 'missing_required_parameter', message: 'Line 5 has no custom_id.', param: 'custom_id', line: 5 },
      ];
      const { handle, trace } = await start({ validate: () => Promise.resolve({ ok: false, errors }) });
      const result = await handle.result();

      expect(trace.events).toEqual(['validate', 'finalize failed']);
      expect(trace.finalized[0].manifestKey).toBeNull();
      expect(trace.finalized[0].record.batch.errors).toEqual({ object: 'list', data: errors });
      expect(result.batch).toMatchObject({ status: 'failed', errors: { object: 'list', data: errors } });
    });

    it('is expired, with no chunk run, when the deadline passed while the file was validated', async () => {
      const { handle, trace, manifestKey } = await start({}, { chunks: 2, expiresInSeconds: -1 });
      const result = await handle.result();

      expect(trace.events).toEqual(['validate', 'finalize expired']);
      expect(trace.finalized[0].manifestKey).toBe(manifestKey);
      expect(trace.finalized[0].record.batch.request_counts.total).toBe(20);
      expect(result.batch.status).toBe('expired');
    });

    it('is expired when the deadline timer fires while a chunk runs: the chunk is cancelled, the others still count', async () => {
      const { handle, trace } = await start(
        { chunk: async ({ chunkIndex }) => (chunkIndex === 0 ? ran(7, 3) : hold().then(() => ran(0))) },
        { chunks: 2, chunkWindow: 2, expiresInSeconds: 3 },
      );
      const result = await handle.result();

      expect(chunkEvents(trace)).toEqual(expect.arrayContaining(['chunk 0 ran all', 'chunk 1 cancelled']));
      expect(trace.events.slice(-1)).toEqual(['finalize expired']);
      expect(trace.finalized[0].record.batch.request_counts).toEqual({ total: 20, completed: 7, failed: 3 });
      expect(result.batch.status).toBe('expired');
    });

    it('is expired when a chunk comes back cut short by the deadline before the workflow timer fires', async () => {
      const { handle, trace } = await start(
        {
          chunk: ({ chunkIndex }) =>
            Promise.resolve(chunkIndex === 1 ? { ...ran(4), ranAll: false } : ran(LINES_PER_CHUNK)),
        },
        { chunks: 2, chunkWindow: 1 },
      );
      const result = await handle.result();

      expect(trace.events).toEqual([
        'validate',
        'chunk 0',
        'chunk 0 ran all',
        'chunk 1',
        'chunk 1 cut short',
        'finalize expired',
      ]);
      expect(trace.finalized[0].record.batch.request_counts).toEqual({ total: 20, completed: 14, failed: 0 });
      expect(result.batch.status).toBe('expired');
    });

    it('is failed when a chunk fails: no later chunk starts, and the message is in errors', async () => {
      const { handle, trace } = await start(
        {
          chunk: ({ chunkIndex }) =>
            chunkIndex === 1
              ? Promise.reject(permanent('the manifest is corrupt'))
              : Promise.resolve(ran(LINES_PER_CHUNK)),
        },
        { chunks: 3, chunkWindow: 1 },
      );
      const result = await handle.result();

      expect(trace.events).toEqual([
        'validate',
        'chunk 0',
        'chunk 0 ran all',
        'chunk 1',
        'chunk 1 failed',
        'finalize failed',
      ]);
      expect(trace.finalized[0].record.batch.request_counts).toEqual({ total: 30, completed: 10, failed: 0 });
      expect(result.batch.status).toBe('failed');
      expect(result.batch.errors?.data).toEqual([
        { code: 'batch_failed', message: expect.stringContaining('the manifest is corrupt'), param: null, line: null },
      ]);
    });

    it('is failed only once the chunks in flight beside the failing one have ended, and starts no other', async () => {
      const second = latch();
      const { handle, trace } = await start(
        {
          chunk: async ({ chunkIndex }) => {
            if (chunkIndex === 0) throw permanent('boom');
            await hold(second.released);
            return ran(1);
          },
        },
        { chunks: 4, chunkWindow: 2 },
      );
      // Wait until the workflow has taken in the failure (a workflow task completed after it)…
      await until(async () => {
        const events = (await handle.fetchHistory()).events ?? [];
        const failedAt = events.findIndex((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED);
        return (
          failedAt >= 0 &&
          events.slice(failedAt).some((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
        );
      }, 'the failure taken in');
      // …and it neither finalized nor started another chunk while chunk 1 runs.
      expect(trace.events).toEqual(expect.arrayContaining(['chunk 0 failed']));
      expect(trace.events.some((e) => e.startsWith('finalize'))).toBe(false);
      second.release();
      const result = await handle.result();

      expect(result.batch.status).toBe('failed');
      expect(trace.chunkInputs.map((c) => c.chunkIndex).sort()).toEqual([0, 1]);
      expect(trace.events.slice(-2)).toEqual(['chunk 1 ran all', 'finalize failed']);
      expect(trace.finalized[0].record.batch.request_counts).toEqual({ total: 40, completed: 1, failed: 0 });
    });

    it('is failed rather than cancelled when a chunk fails after the cancel', async () => {
      const { handle, trace } = await start({
        chunk: async () => {
          await hold().catch(() => undefined); // the cancel arrives…
          throw permanent('flush failed'); // …and the chunk fails instead of stopping cleanly
        },
      });
      await until(() => trace.events.includes('chunk 0'), 'chunk 0 started');
      expect((await handle.executeUpdate(cancelBatchUpdate)).batch.status).toBe('cancelling');
      const result = await handle.result();

      expect(chunkEvents(trace)).toEqual(['chunk 0', 'chunk 0 failed']);
      expect(result.batch.status).toBe('failed');
      expect(result.batch.errors?.data[0].message).toContain('flush failed');
    });

    it('is failed rather than expired when one chunk was cut short and another failed', async () => {
      const { handle } = await start(
        {
          chunk: ({ chunkIndex }) =>
            chunkIndex === 0 ? Promise.resolve({ ...ran(1), ranAll: false }) : Promise.reject(permanent('boom')),
        },
        { chunks: 2, chunkWindow: 1 },
      );
      expect((await handle.result()).batch.status).toBe('failed');
    });

    it('is cancelled rather than expired when one chunk was cut short and the batch was then cancelled', async () => {
      const { handle, trace } = await start(
        {
          chunk: async ({ chunkIndex }) => {
            if (chunkIndex === 0) return { ...ran(1), ranAll: false };
            await hold();
            return ran(0);
          },
        },
        { chunks: 2, chunkWindow: 1 },
      );
      await until(() => trace.events.includes('chunk 1'), 'chunk 1 started');
      await handle.executeUpdate(cancelBatchUpdate);
      const result = await handle.result();

      expect(chunkEvents(trace)).toEqual(['chunk 0', 'chunk 0 cut short', 'chunk 1', 'chunk 1 cancelled']);
      expect(result.batch.status).toBe('cancelled');
    });

    it('fails the workflow when finalize leaves the batch in a status that is not terminal', async () => {
      const { handle } = await start({ finalize: ({ record }) => Promise.resolve(record) });
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    });
  });

  describe('the cancelBatch update', () => {
    it('sent right after the start: answers cancelling and ends cancelled, whatever the workflow had done by then', async () => {
      const { handle } = await start({ chunk: () => hold().then(() => ran(0)) }, { chunks: 2 });
      expect((await handle.executeUpdate(cancelBatchUpdate)).batch.status).toBe('cancelling');
      expect((await handle.result()).batch.status).toBe('cancelled');
    });

    it('while validating: answers cancelling at once, runs no chunk, and ends cancelled', async () => {
      const validating = latch();
      const validated = latch();
      const { handle, trace, manifestKey } = await start(
        {
          validate: async () => {
            validating.release();
            await hold(validated.released);
            return { ok: true, total: 20, chunkCount: 2, manifestKey, model: MODEL };
          },
        },
        { chunks: 2 },
      );
      await validating.released;
      const answer = await handle.executeUpdate(cancelBatchUpdate);
      expect(answer.batch.status).toBe('cancelling');
      expect(answer.batch.cancelling_at).not.toBeNull();

      validated.release();
      const result = await handle.result();
      expect(trace.events).toEqual(['validate', 'finalize cancelled']);
      expect(trace.finalized[0].manifestKey).toBe(manifestKey);
      expect(result.batch.status).toBe('cancelled');
    });

    it('while in progress: cancels the chunks in flight, starts no other, answers a repeated cancel, and ends cancelled', async () => {
      const finalizing = latch();
      const finalized = latch();
      const { handle, trace, status } = await start(
        {
          chunk: () => hold().then(() => ran(0)),
          finalize: async ({ record, outcome }) => {
            finalizing.release();
            await hold(finalized.released);
            return terminal(record, outcome);
          },
        },
        { chunks: 3, chunkWindow: 2 },
      );
      await until(() => trace.chunkInputs.length === 2, 'two chunks started');
      expect(await status()).toBe('in_progress');
      const answer = await handle.executeUpdate(cancelBatchUpdate);
      expect(answer.batch.status).toBe('cancelling');

      await finalizing.released;
      // Asked again while the partial results are written: the same answer, nothing new.
      const again = await handle.executeUpdate(cancelBatchUpdate);
      expect(again.batch.status).toBe('cancelling');
      expect(again.batch.cancelling_at).toBe(answer.batch.cancelling_at);
      finalized.release();
      const result = await handle.result();

      expect(chunkEvents(trace).sort()).toEqual(['chunk 0', 'chunk 0 cancelled', 'chunk 1', 'chunk 1 cancelled']);
      expect(trace.events.slice(-1)).toEqual(['finalize cancelled']);
      expect(result.batch.status).toBe('cancelled');
    });

    it('is refused while a batch whose chunks all ran is finalizing, and the batch completes', async () => {
      const finalizing = latch();
      const finalized = latch();
      const { handle, status } = await start({
        finalize: async ({ record, outcome }) => {
          finalizing.release();
          await hold(finalized.released);
          return terminal(record, outcome);
        },
      });
      await finalizing.released;
      expect(await status()).toBe('finalizing');
      await expectCancelRefused(handle);
      finalized.release();
      expect((await handle.result()).batch.status).toBe('completed');
    });

    it.each<[BatchOutcome, Partial<Script>]>([
      ['failed', { validate: () => Promise.resolve({ ok: false, errors: [] }) }],
      ['expired', { chunk: () => Promise.resolve({ ...ran(1), ranAll: false }) }],
    ])('is refused while a batch that ends %s is being finalized', async (outcome, script) => {
      const finalizing = latch();
      const finalized = latch();
      const { handle } = await start({
        ...script,
        finalize: async ({ record, outcome: o }) => {
          finalizing.release();
          await hold(finalized.released);
          return terminal(record, o);
        },
      });
      await finalizing.released;
      await expectCancelRefused(handle);
      finalized.release();
      expect((await handle.result()).batch.status).toBe(outcome);
    });

    it.each<[BatchOutcome, Partial<Script>]>([
      ['completed', {}],
      ['failed', { validate: () => Promise.resolve({ ok: false, errors: [] }) }],
      ['expired', { chunk: () => Promise.resolve({ ...ran(1), ranAll: false }) }],
    ])('is refused once the batch is %s (while its webhook is delivered)', async (outcome, script) => {
      const delivering = latch();
      const delivered = latch();
      const { handle } = await start(
        {
          ...script,
          webhook: async () => {
            delivering.release();
            await hold(delivered.released);
          },
        },
        { webhookUrl: 'https://receiver.test/hook' },
      );
      await delivering.released;
      await expectCancelRefused(handle);
      delivered.release();
      expect((await handle.result()).batch.status).toBe(outcome);
    });

    it('answers a cancelled batch with its record (while its webhook is delivered)', async () => {
      const delivering = latch();
      const delivered = latch();
      const { handle, trace } = await start(
        {
          chunk: () => hold().then(() => ran(0)),
          webhook: async () => {
            delivering.release();
            await hold(delivered.released);
          },
        },
        { webhookUrl: 'https://receiver.test/hook' },
      );
      await until(() => trace.events.includes('chunk 0'), 'chunk 0 started');
      await handle.executeUpdate(cancelBatchUpdate);
      await delivering.released;
      expect((await handle.executeUpdate(cancelBatchUpdate)).batch.status).toBe('cancelled');
      delivered.release();
      expect((await handle.result()).batch.status).toBe('cancelled');
    });
  });

  describe('a cancel request on the workflow (temporal workflow cancel, the Web UI)', () => {
    it('sent right after the start: ends cancelled, whatever the workflow had done by then', async () => {
      const { handle } = await start({ chunk: () => hold().then(() => ran(0)) }, { chunks: 2 });
      await handle.cancel();
      expect((await handle.result()).batch.status).toBe('cancelled');
    });

    it('while in progress: cancels the chunks, still finalizes, and the workflow completes with a cancelled batch', async () => {
      const { handle, trace } = await start({ chunk: () => hold().then(() => ran(0)) }, { chunks: 2, chunkWindow: 1 });
      await until(() => trace.events.includes('chunk 0'), 'chunk 0 started');
      await handle.cancel();
      const result = await handle.result();

      expect(trace.events).toEqual(['validate', 'chunk 0', 'chunk 0 cancelled', 'finalize cancelled']);
      expect(result.batch.status).toBe('cancelled');
      expect(result.batch.cancelling_at).not.toBeNull();
      expect((await handle.describe()).status.name).toBe('COMPLETED');
    });

    it('while validating: lets validation end, runs no chunk, and ends cancelled', async () => {
      const validating = latch();
      const validated = latch();
      const { handle, trace, manifestKey } = await start({
        validate: async () => {
          validating.release();
          await hold(validated.released);
          return { ok: true, total: 10, chunkCount: 1, manifestKey, model: MODEL };
        },
      });
      await validating.released;
      await handle.cancel();
      await until(async () => (await handle.query(getBatchQuery)).batch.status === 'cancelling', 'cancelling');
      validated.release();

      expect((await handle.result()).batch.status).toBe('cancelled');
      expect(trace.events).toEqual(['validate', 'finalize cancelled']);
    });

    it('while finalizing: is ignored, the batch completes and its webhook is delivered', async () => {
      const finalizing = latch();
      const finalized = latch();
      const { handle, trace } = await start(
        {
          finalize: async ({ record, outcome }) => {
            finalizing.release();
            await hold(finalized.released);
            return terminal(record, outcome);
          },
        },
        { webhookUrl: 'https://receiver.test/hook' },
      );
      await finalizing.released;
      await handle.cancel();
      finalized.release();

      expect((await handle.result()).batch.status).toBe('completed');
      expect(trace.events.slice(-2)).toEqual(['finalize completed', 'webhook completed']);
    });
  });

  describe('the webhook', () => {
    it('is delivered once, after finalize, with the terminal record', async () => {
      const { handle, trace } = await start({}, { webhookUrl: 'https://receiver.test/hook' });
      const result = await handle.result();

      expect(trace.events.slice(-2)).toEqual(['finalize completed', 'webhook completed']);
      expect(trace.webhooks).toEqual([result]);
    });

    it('that fails does not change the batch', async () => {
      const { handle, trace } = await start(
        { webhook: () => Promise.reject(permanent('receiver said 410')) },
        { webhookUrl: 'https://receiver.test/hook' },
      );
      const result = await handle.result();

      expect(trace.events.slice(-1)).toEqual(['webhook completed']);
      expect(result).toEqual(terminal(trace.finalized[0].record, 'completed'));
      expect(await handle.query(getBatchQuery)).toEqual(result);
      expect((await handle.describe()).status.name).toBe('COMPLETED');
    });
  });
});
