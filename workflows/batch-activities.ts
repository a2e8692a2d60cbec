import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { Priority } from '@temporalio/common';
import type { Activities } from '../activities';

/** The batch workflow's activities, with their timeouts and retry policies, and its patches. */

// Validation and finalize stream whole files: generous start-to-close, heartbeats to detect a dead worker.
export const { validateInputFile, finalizeBatch } = proxyActivities<Activities>({
  startToCloseTimeout: '2h',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});

// A chunk stops by itself at the batch deadline; the heartbeat timeout is what notices a crashed worker,
// and the retry resumes from the heartbeated watermark. Cancellation waits for the chunk to flush. Chunks
// go through the task queue, not eagerly to the worker that runs the workflow, so every worker gets some.
// Their priority key is the batch's deadline class (earliest deadline first) and their fairness key its
// tenant, so that when workers' activity slots are scarce, Temporal hands out chunks in that order too.
export function chunkActivities(heartbeatTimeoutSeconds: number, priority?: Priority) {
  return proxyActivities<Activities>({
    startToCloseTimeout: '48h',
    allowEagerDispatch: false,
    heartbeatTimeout: `${heartbeatTimeoutSeconds}s`,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    ...(priority !== undefined ? { priority } : {}),
  });
}

// A webhook is retried with backoff for up to a day; it runs after the batch is terminal and never changes it.
export const { deliverWebhook } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '24h',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30m' },
});

// The e-mail to the batch's tenant, retried like the webhook and beside it: neither waits for the other.
export const { notifyBatchEnd } = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  scheduleToCloseTimeout: '24h',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30m' },
});

/** Patch: a batch that ends e-mails its tenant (the activity sends nothing without SMTP_URL or an address). */
export const NOTIFY_BATCH_END = 'notify-batch-end';

/**
 * Patch: a batch whose chunks were cut short by the deadline expires even when every chunk returned before
 * the workflow's own deadline timer fired (a race once all chunks are in flight at once). Histories from
 * before the patch replay as they ran (such a batch completed).
 */
export const EXPIRE_WHEN_CUT_SHORT = 'expire-when-a-chunk-was-cut-short';

/** Patch: a batch that would miss its deadline at its pace says so (BatchAtRisk, memo) as chunks end. */
export const DEADLINE_AT_RISK = 'deadline-at-risk';

/** Patch: chunk activities carry a priority (deadline class) and fairness key (tenant); older ones did not. */
export const CHUNK_PRIORITY = 'chunk-priority-and-fairness';
