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
import type { Activities, BatchOutcome, ExecuteChunkOutput } from '../activities';
import type { BatchRecord, BatchStatus, BatchWorkflowInput } from '../common/batch';
import { addUsage, isTerminalStatus } from '../common/batch';
import {
  BATCH_MODEL,
  BATCH_NOT_CANCELLABLE,
  BATCH_STATUS,
  BATCH_SUMMARY_MEMO,
  cancelBatchUpdate,
  getBatchQuery,
} from './definitions';
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

/**
 * Patch: a batch whose chunks were cut short by the deadline expires even when every chunk returned before
 * the workflow's own deadline timer fired (a race once all chunks are in flight at once). Histories from
 * before the patch replay as they ran (such a batch completed).
 */
const EXPIRE_WHEN_CUT_SHORT = 'expire-when-a-chunk-was-cut-short';

/** Statuses from which a cancel is refused (the batch has run every request or is already over). */
const NOT_CANCELLABLE: readonly BatchStatus[] = ['finalizing', 'completed', 'failed', 'expired'];

/**
 * One batch, from validation to its terminal state. The workflow id is the batch id.
 *
 * History holds only ids, keys and counts: the input file is validated and cut into chunks by an activity,
 * each chunk runs as one activity within a sliding window, and finalize builds the result files from what
 * the chunks stored. The deadline is a timer raced against the chunks.
 */
export async function batchWorkflow(input: BatchWorkflowInput): Promise<BatchRecord> {
  const state: BatchRecord = input.record;
  const { executeChunk } = chunkActivities(input.options.chunkHeartbeatTimeoutSeconds ?? 30);
  const { batch } = state;
  const deadlineMs = (batch.expires_at ?? batch.created_at + 86_400) * 1000;
  let cancelRequested = false;
  let finishing = false;

  /** Shows the status to operators: search attributes (Web UI, `temporal workflow list`) and a memo summary. */
  const publish = () => {
    if (input.options.searchAttributes !== true) return;
    upsertSearchAttributes([
      { key: BATCH_STATUS, value: batch.status },
      ...(batch.model !== null ? [{ key: BATCH_MODEL, value: batch.model }] : []),
    ]);
    upsertMemo({
      [BATCH_SUMMARY_MEMO]: {
        status: batch.status,
        request_counts: batch.request_counts,
        output_file_id: batch.output_file_id,
        error_file_id: batch.error_file_id,
      },
    });
  };

  const requestCancel = () => {
    if (batch.status !== 'cancelling' && batch.status !== 'cancelled') {
      cancelRequested = true;
      batch.status = 'cancelling';
      batch.cancelling_at = nowSeconds();
      publish();
    }
  };

  setHandler(getBatchQuery, () => state);
  setHandler(
    cancelBatchUpdate,
    () => {
      requestCancel();
      return state;
    },
    {
      validator: () => {
        if (NOT_CANCELLABLE.includes(batch.status) || (finishing && !cancelRequested)) {
          throw ApplicationFailure.create({
            message: `Cannot cancel a batch with status '${batch.status}'.`,
            type: BATCH_NOT_CANCELLABLE,
            nonRetryable: true,
          });
        }
      },
    },
  );

  // `temporal workflow cancel` and the Web UI's Cancel button cancel the batch as the API does: the request
  // on the root scope becomes a cancel request, and the work runs in a non-cancellable scope so that
  // finalize still writes the result files and batch.json. A batch past the point of no return finishes.
  CancellationScope.current().cancelRequested.catch(() => {
    if (!finishing && !NOT_CANCELLABLE.includes(batch.status)) requestCancel();
  });
  return CancellationScope.nonCancellable(run);

  async function run(): Promise<BatchRecord> {
    const validation = await validateInputFile({ record: state, options: input.options });
    if (!validation.ok) {
      batch.errors = { object: 'list', data: validation.errors };
      return finish('failed', null);
    }
    batch.model = validation.model;
    batch.request_counts.total = validation.total;
    if (cancelRequested) return finish('cancelled', validation.manifestKey);
    if (Date.now() >= deadlineMs) return finish('expired', validation.manifestKey);
    batch.status = 'in_progress';
    batch.in_progress_at = nowSeconds();
    publish();

    let done = false;
    let cutShort = false;
    let failure: unknown = null;
    const scope = new CancellationScope();
    const work = scope
      .run(() =>
        runSlidingWindow(
          validation.chunkCount,
          input.options.chunkWindow,
          (chunkIndex) =>
            executeChunk({
              batchId: batch.id,
              inputFileId: batch.input_file_id,
              manifestKey: validation.manifestKey,
              chunkIndex,
              deadlineMs,
            }),
          (result: ExecuteChunkOutput) => {
            if (!result.ranAll) cutShort = true;
            batch.request_counts.completed += result.completed;
            batch.request_counts.failed += result.failed;
            addUsage(batch.usage, result.usage);
          },
        ),
      )
      .catch((err: unknown) => {
        if (!isCancellation(err)) failure = err;
      })
      .finally(() => {
        done = true;
      });
    const settledInTime = await condition(() => done || cancelRequested, Math.max(1, deadlineMs - Date.now()));
    if (!done) scope.cancel();
    await work;

    let outcome: BatchOutcome;
    if (failure !== null) {
      batch.errors = {
        object: 'list',
        data: [{ code: 'batch_failed', message: describeFailure(failure), param: null, line: null }],
      };
      outcome = 'failed';
    } else if (cancelRequested) {
      outcome = 'cancelled';
    } else if (!settledInTime || (cutShort && patched(EXPIRE_WHEN_CUT_SHORT))) {
      // A chunk stops by itself at the deadline: it may return before the timer above fires.
      outcome = 'expired';
    } else {
      outcome = 'completed';
      batch.status = 'finalizing';
      batch.finalizing_at = nowSeconds();
      publish();
    }
    return finish(outcome, validation.manifestKey);
  }

  /** Writes the result files and `batch.json`, whatever cancelled the scope above. */
  async function finish(outcome: BatchOutcome, manifestKey: string | null): Promise<BatchRecord> {
    finishing = true;
    const final = await CancellationScope.nonCancellable(() => finalizeBatch({ record: state, manifestKey, outcome }));
    // Mutate in place: the handlers above hold `batch`.
    Object.assign(batch, final.batch);
    if (!isTerminalStatus(batch.status)) {
      throw ApplicationFailure.nonRetryable(`finalizeBatch left ${batch.id} in '${batch.status}'`);
    }
    publish();
    if (state.webhookUrl !== null) {
      try {
        await CancellationScope.nonCancellable(() => deliverWebhook({ record: state }));
      } catch (err) {
        log.warn('Webhook not delivered', { batchId: batch.id, error: String(err) });
      }
    }
    return state;
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
