import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities, ExecuteChunkOutput, ValidateInputFileOutput } from '../activities';
import type { Batch, BatchRecord, BatchWorkflowInput } from '../common/batch';
import { addUsage, isTerminalStatus } from '../common/batch';
import type { BatchOutcome, RunFacts } from '../common/batch-lifecycle';
import { cancelRefusal, decideOutcome, enterStatus } from '../common/batch-lifecycle';
import {
  BATCH_MODEL,
  BATCH_NOT_CANCELLABLE,
  BATCH_STATUS,
  BATCH_SUMMARY_MEMO,
  cancelBatchUpdate,
  chunkProgressSignal,
  getBatchQuery,
  getProgressQuery,
} from './definitions';
import { ChunkBoard, chunkSummary } from './progress';
import { runSlidingWindow } from './sliding-window';

// Validation and finalize stream whole files: generous start-to-close, heartbeats to detect a dead worker.
const { validateInputFile, finalizeBatch } = proxyActivities<Activities>({
  startToCloseTimeout: '2h',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});

// A chunk stops by itself at the batch deadline; the heartbeat timeout is what notices a crashed worker,
// and the retry resumes from the heartbeated watermark. Cancellation waits for the chunk to flush. Chunks
// go through the task queue, not eagerly to the worker that runs the workflow, so every worker gets some.
function chunkActivities(heartbeatTimeoutSeconds: number) {
  return proxyActivities<Activities>({
    startToCloseTimeout: '48h',
    allowEagerDispatch: false,
    heartbeatTimeout: `${heartbeatTimeoutSeconds}s`,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
}

// A webhook is retried with backoff for up to a day; it runs after the batch is terminal and never changes it.
const { deliverWebhook } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '24h',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30m' },
});

// The e-mail to the batch's tenant, retried like the webhook and beside it: neither waits for the other.
const { notifyBatchEnd } = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  scheduleToCloseTimeout: '24h',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30m' },
});

/** Patch: a batch that ends e-mails its tenant (the activity sends nothing without SMTP_URL or an address). */
const NOTIFY_BATCH_END = 'notify-batch-end';

/**
 * Patch: a batch whose chunks were cut short by the deadline expires even when every chunk returned before
 * the workflow's own deadline timer fired (a race once all chunks are in flight at once). Histories from
 * before the patch replay as they ran (such a batch completed).
 */
const EXPIRE_WHEN_CUT_SHORT = 'expire-when-a-chunk-was-cut-short';

/**
 * One batch, from validation to its terminal state. The workflow id is the batch id.
 *
 * History holds only ids, keys and counts: the input file is validated and cut into chunks by an activity,
 * each chunk runs as one activity within a sliding window, and finalize builds the result files from what
 * the chunks stored. The deadline is a timer raced against the chunks. Every decision about statuses and
 * outcomes is made by `common/batch-lifecycle.ts`.
 */
export async function batchWorkflow(input: BatchWorkflowInput): Promise<BatchRecord> {
  const run = new BatchRun(input);
  run.handleQueriesAndCancels();
  // The work runs in a non-cancellable scope so that a cancel of the workflow (`temporal workflow cancel`,
  // the Web UI) becomes a cancel of the batch, and finalize still writes the result files and batch.json.
  return CancellationScope.nonCancellable(async () => {
    const validation = await run.validate();
    if (!validation.ok) return run.finish('failed', null);
    const early = run.outcomeBeforeChunks();
    if (early !== null) return run.finish(early, validation.manifestKey);
    run.enter('in_progress');
    const outcome = decideOutcome(await run.runChunks(validation));
    if (outcome === 'completed') run.enter('finalizing');
    return run.finish(outcome, validation.manifestKey);
  });
}

type ValidOutput = Extract<ValidateInputFileOutput, { ok: true }>;

/** The state of one batch's run and the steps the workflow takes with it. */
class BatchRun {
  private readonly state: BatchRecord;
  private readonly batch: Batch;
  private readonly deadlineMs: number;
  /** The running chunks' reports, shown until their results are in. */
  private readonly board: ChunkBoard;
  private cancelRequested = false;
  /** Set once finalize is under way: from then on only a cancel already requested is accepted again. */
  private finishing = false;

  constructor(private readonly input: BatchWorkflowInput) {
    this.state = input.record;
    this.batch = input.record.batch;
    this.deadlineMs = (this.batch.expires_at ?? this.batch.created_at + 86_400) * 1000;
    this.board = new ChunkBoard(this.state);
    this.board.showDetails();
  }

  handleQueriesAndCancels(): void {
    setHandler(getBatchQuery, () => this.board.view());
    setHandler(getProgressQuery, () => this.board.progress());
    // A report is counts only; it changes what the query, the memo and the Web UI show, never the batch.
    setHandler(chunkProgressSignal, (report) => {
      if (this.board.report(report)) this.showProgress();
    });
    setHandler(
      cancelBatchUpdate,
      () => {
        this.requestCancel();
        return this.state;
      },
      {
        validator: () => {
          const refusal = cancelRefusal(this.batch.status);
          if (refusal !== null || (this.finishing && !this.cancelRequested)) {
            throw ApplicationFailure.create({
              message: refusal ?? 'Cannot cancel a batch that is being finalized.',
              type: BATCH_NOT_CANCELLABLE,
              nonRetryable: true,
            });
          }
        },
      },
    );
    // A cancel of the workflow itself becomes a cancel of the batch; a batch past the point of no return
    // finishes.
    CancellationScope.current().cancelRequested.catch(() => {
      if (!this.finishing && cancelRefusal(this.batch.status) === null) this.requestCancel();
    });
  }

  async validate(): Promise<ValidateInputFileOutput> {
    const validation = await validateInputFile({ record: this.state, options: this.input.options });
    if (!validation.ok) {
      this.batch.errors = { object: 'list', data: validation.errors };
    } else {
      this.batch.model = validation.model;
      this.batch.request_counts.total = validation.total;
    }
    this.board.showDetails();
    return validation;
  }

  /** A batch cancelled or past its deadline while it was validated ends without running a chunk. */
  outcomeBeforeChunks(): BatchOutcome | null {
    if (this.cancelRequested) return 'cancelled';
    if (Date.now() >= this.deadlineMs) return 'expired';
    return null;
  }

  enter(status: 'in_progress' | 'finalizing'): void {
    enterStatus(this.batch, status, nowSeconds());
    this.publish();
  }

  /** Runs the chunks in a sliding window, raced against the deadline and a cancel; says what happened. */
  async runChunks(validation: ValidOutput): Promise<RunFacts> {
    const { executeChunk } = chunkActivities(this.input.options.chunkHeartbeatTimeoutSeconds ?? 30);
    const { batch } = this;
    let done = false;
    let cutShort = false;
    let failure: unknown = null;
    const scope = new CancellationScope();
    const work = scope
      .run(() =>
        runSlidingWindow(
          validation.chunkCount,
          this.input.options.chunkWindow,
          (chunkIndex) =>
            // The summary names the chunk in the Web UI (user metadata, not history payload).
            executeChunk.executeWithOptions({ summary: chunkSummary(validation, chunkIndex) }, [
              {
                batchId: batch.id,
                inputFileId: batch.input_file_id,
                manifestKey: validation.manifestKey,
                chunkIndex,
                deadlineMs: this.deadlineMs,
              },
            ]),
          (result: ExecuteChunkOutput, chunkIndex: number) => {
            if (!result.ranAll) cutShort = true;
            batch.request_counts.completed += result.completed;
            batch.request_counts.failed += result.failed;
            addUsage(batch.usage, result.usage);
            this.board.finish(chunkIndex);
            this.board.showDetails();
          },
        ),
      )
      .catch((err: unknown) => {
        if (!isCancellation(err)) failure = err;
      })
      .finally(() => {
        done = true;
      });
    const settledInTime = await condition(
      () => done || this.cancelRequested,
      Math.max(1, this.deadlineMs - Date.now()),
    );
    if (!done) scope.cancel();
    await work;
    if (failure !== null) {
      batch.errors = {
        object: 'list',
        data: [{ code: 'batch_failed', message: describeFailure(failure), param: null, line: null }],
      };
    }
    const failed = failure !== null;
    // A chunk stops by itself at the deadline and may return before the timer above fires. The patch is
    // asked exactly where it was before the lifecycle moved to common/, so recorded histories replay.
    const counted = cutShort && !failed && !this.cancelRequested && settledInTime && patched(EXPIRE_WHEN_CUT_SHORT);
    return { failed, cancelRequested: this.cancelRequested, settledInTime, cutShort: counted };
  }

  /** Writes the result files and `batch.json` (whatever cancelled the scope above), then the webhook. */
  async finish(outcome: BatchOutcome, manifestKey: string | null): Promise<BatchRecord> {
    this.finishing = true;
    const final = await CancellationScope.nonCancellable(() =>
      finalizeBatch({ record: this.state, manifestKey, outcome }),
    );
    // Mutate in place: the handlers hold `batch`.
    Object.assign(this.batch, final.batch);
    this.board.close();
    if (!isTerminalStatus(this.batch.status)) {
      throw ApplicationFailure.nonRetryable(`finalizeBatch left ${this.batch.id} in '${this.batch.status}'`);
    }
    this.publish();
    await CancellationScope.nonCancellable(() => Promise.all([this.webhook(), this.email()]));
    return this.state;
  }

  /** Delivers the webhook, if the batch has one; a failure is logged, never the batch's. */
  private async webhook(): Promise<void> {
    if (this.state.webhookUrl === null) return;
    await deliverWebhook({ record: this.state }).catch((err: unknown) =>
      log.warn('Webhook not delivered', { batchId: this.batch.id, error: String(err) }),
    );
  }

  /** E-mails the batch's tenant; a failure is logged, never the batch's. */
  private async email(): Promise<void> {
    if (!patched(NOTIFY_BATCH_END)) return;
    await notifyBatchEnd({ record: this.state }).catch((err: unknown) =>
      log.warn('Batch e-mail not sent', { batchId: this.batch.id, error: String(err) }),
    );
  }

  private requestCancel(): void {
    if (this.batch.status === 'cancelling' || this.batch.status === 'cancelled') return;
    this.cancelRequested = true;
    enterStatus(this.batch, 'cancelling', nowSeconds());
    this.publish();
  }

  /** Shows the status to operators: search attributes (Web UI, `temporal workflow list`) and a memo summary. */
  private publish(): void {
    this.board.showDetails();
    if (this.input.options.searchAttributes !== true) return;
    const { batch } = this;
    upsertSearchAttributes([
      { key: BATCH_STATUS, value: batch.status },
      ...(batch.model !== null ? [{ key: BATCH_MODEL, value: batch.model }] : []),
    ]);
    upsertMemo({ [BATCH_SUMMARY_MEMO]: this.board.memo() });
  }

  /** Shows a running chunk's report: current details, and the memo's counts (one history event). */
  private showProgress(): void {
    this.board.showDetails();
    if (this.input.options.searchAttributes === true) upsertMemo({ [BATCH_SUMMARY_MEMO]: this.board.memo() });
  }
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function describeFailure(err: unknown): string {
  const cause = (err as { cause?: { message?: string } }).cause;
  const message = cause?.message ?? (err as { message?: string }).message ?? 'unknown error';
  return `The batch could not be completed: ${message}`;
}
