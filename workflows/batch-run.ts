import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { ExecuteChunkInput, ExecuteChunkOutput, ValidateInputFileOutput } from '../activities';
import type { Batch, BatchRecord, BatchWorkflowInput } from '../common/batch';
import { addUsage, isTerminalStatus } from '../common/batch';
import type { BatchOutcome, RunFacts } from '../common/batch-lifecycle';
import { cancelRefusal, enterStatus } from '../common/batch-lifecycle';
import { deadlineClass, priorityKeyOf } from '../common/completion-windows';
import {
  BATCH_AT_RISK,
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
import {
  CHUNK_PRIORITY,
  chunkActivities,
  DEADLINE_AT_RISK,
  deliverWebhook,
  EXPIRE_WHEN_CUT_SHORT,
  finalizeBatch,
  NOTIFY_BATCH_END,
  notifyBatchEnd,
  validateInputFile,
} from './batch-activities';
import { runSlidingWindow } from './sliding-window';

type ValidOutput = Extract<ValidateInputFileOutput, { ok: true }>;

/** The state of one batch's run and the steps the workflow takes with it. */
export class BatchRun {
  private readonly state: BatchRecord;
  private readonly batch: Batch;
  private readonly deadlineMs: number;
  /** The running chunks' reports, shown until their results are in. */
  private readonly board: ChunkBoard;
  private cancelRequested = false;
  /** Set once finalize is under way: from then on only a cancel already requested is accepted again. */
  private finishing = false;
  /** Whether, at the pace it has run so far, the batch would finish after its deadline. */
  private atRisk = false;
  private everAtRisk = false;

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

  /** The chunk activity, with the priority of the batch's deadline class now and its tenant's fairness. */
  private executeChunk(input: ExecuteChunkInput, summary: string): Promise<ExecuteChunkOutput> {
    const heartbeat = this.input.options.chunkHeartbeatTimeoutSeconds ?? 30;
    // The summary names the chunk in the Web UI (user metadata, not history payload).
    if (!patched(CHUNK_PRIORITY)) {
      return chunkActivities(heartbeat).executeChunk.executeWithOptions({ summary }, [input]);
    }
    const classes = this.input.options.deadlineClasses ?? [];
    const deadlineClassIndex = deadlineClass((this.deadlineMs - Date.now()) / 1000, classes);
    const tenant = this.state.tenant?.name ?? this.state.owner;
    const weight = this.state.tenant?.weight ?? 1;
    const priority = {
      priorityKey: priorityKeyOf(deadlineClassIndex),
      fairnessKey: tenant.slice(0, 64),
      fairnessWeight: weight,
    };
    return chunkActivities(heartbeat, priority).executeChunk.executeWithOptions({ summary }, [
      { ...input, tenant, tenantWeight: weight, deadlineClasses: classes },
    ]);
  }

  /** Runs the chunks in a sliding window, raced against the deadline and a cancel; says what happened. */
  async runChunks(validation: ValidOutput): Promise<RunFacts> {
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
            this.executeChunk(
              {
                batchId: batch.id,
                inputFileId: batch.input_file_id,
                manifestKey: validation.manifestKey,
                chunkIndex,
                deadlineMs: this.deadlineMs,
              },
              chunkSummary(validation, chunkIndex),
            ),
          (result: ExecuteChunkOutput, chunkIndex: number) => {
            if (!result.ranAll) cutShort = true;
            batch.request_counts.completed += result.completed;
            batch.request_counts.failed += result.failed;
            addUsage(batch.usage, result.usage);
            this.board.finish(chunkIndex);
            this.board.showDetails();
            this.checkPace();
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

  /**
   * Shows operators a batch that, at the pace it has run since it started, would finish after its deadline
   * (search attribute BatchAtRisk, the memo, the API's `batch_batches_at_risk`) while there is time to act.
   */
  private checkPace(): void {
    const { total, completed, failed } = this.batch.request_counts;
    const done = completed + failed;
    const started = (this.batch.in_progress_at ?? 0) * 1000;
    const elapsed = Date.now() - started;
    if (done === 0 || done >= total || elapsed <= 0) return;
    const atRisk = Date.now() + ((total - done) * elapsed) / done > this.deadlineMs;
    if (atRisk === this.atRisk || !patched(DEADLINE_AT_RISK)) return;
    this.atRisk = atRisk;
    this.everAtRisk ||= atRisk;
    if (atRisk) log.warn('Batch would miss its deadline at its pace', { batchId: this.batch.id, done, total });
    this.publish();
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
      // Set once the batch was at risk (so histories from before it replay), cleared when it ends.
      ...(this.everAtRisk ? [{ key: BATCH_AT_RISK, value: this.atRisk && !isTerminalStatus(batch.status) }] : []),
    ]);
    upsertMemo({ [BATCH_SUMMARY_MEMO]: this.memo() });
  }

  /** Shows a running chunk's report: current details, and the memo's counts (one history event). */
  private showProgress(): void {
    this.board.showDetails();
    if (this.input.options.searchAttributes === true) upsertMemo({ [BATCH_SUMMARY_MEMO]: this.memo() });
  }

  private memo() {
    return { ...this.board.memo(), ...(this.atRisk ? { at_risk: true } : {}) };
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
