/**
 * The life of a batch, in one place: how a new one looks, which timestamp each status sets, when a cancel
 * is refused, and which outcome wins when several things happen at once. Pure and workflow-safe: the API,
 * the workflow and the activities all decide through these functions.
 */
import type { Batch, BatchEndpoint, BatchStatus, Metadata } from './batch';
import { emptyUsage } from './batch';

/** How a batch ended: the terminal status finalize writes. */
export type BatchOutcome = Extract<BatchStatus, 'completed' | 'expired' | 'cancelled' | 'failed'>;

/** The timestamp field each status sets when the batch enters it (`validating` has `created_at`). */
const STATUS_TIMESTAMP: Record<Exclude<BatchStatus, 'validating'>, keyof Batch> = {
  in_progress: 'in_progress_at',
  finalizing: 'finalizing_at',
  cancelling: 'cancelling_at',
  completed: 'completed_at',
  failed: 'failed_at',
  expired: 'expired_at',
  cancelled: 'cancelled_at',
};

export interface NewBatchParams {
  id: string;
  endpoint: BatchEndpoint;
  inputFileId: string;
  completionWindow: string;
  /** Unix seconds. */
  createdAt: number;
  /** How long the completion window lasts; `expires_at = created_at + windowSeconds`. */
  windowSeconds: number;
  metadata: Metadata | null;
}

/** A batch as it is created: `validating`, every field present, `null` where unset. */
export function newBatch(p: NewBatchParams): Batch {
  return {
    id: p.id,
    object: 'batch',
    endpoint: p.endpoint,
    model: null,
    errors: null,
    input_file_id: p.inputFileId,
    completion_window: p.completionWindow,
    status: 'validating',
    output_file_id: null,
    error_file_id: null,
    created_at: p.createdAt,
    in_progress_at: null,
    expires_at: p.createdAt + p.windowSeconds,
    finalizing_at: null,
    completed_at: null,
    failed_at: null,
    expired_at: null,
    cancelling_at: null,
    cancelled_at: null,
    request_counts: { total: 0, completed: 0, failed: 0 },
    usage: emptyUsage(),
    metadata: p.metadata,
  };
}

/** Moves the batch to `status` and stamps the status's timestamp, unless it was stamped before. */
export function enterStatus(batch: Batch, status: Exclude<BatchStatus, 'validating'>, nowSeconds: number): void {
  batch.status = status;
  const field = STATUS_TIMESTAMP[status];
  if (batch[field] === null) (batch as unknown as Record<string, number>)[field] = nowSeconds;
}

/** When a terminal batch ended (the timestamp of its status), or null for a batch still running. */
export function endedAt(batch: Batch): number | null {
  if (!isOutcome(batch.status)) return null;
  return batch[STATUS_TIMESTAMP[batch.status]] as number | null;
}

export function isOutcome(status: BatchStatus): status is BatchOutcome {
  return status === 'completed' || status === 'failed' || status === 'expired' || status === 'cancelled';
}

/**
 * Why a batch in `status` cannot be cancelled, or null when it can. A batch that is cancelling or cancelled
 * may be cancelled again (the answer is the batch as it is); one that finalizes has run every request.
 */
export function cancelRefusal(status: BatchStatus): string | null {
  if (status === 'finalizing' || status === 'completed' || status === 'failed' || status === 'expired') {
    return `Cannot cancel a batch with status '${status}'.`;
  }
  return null;
}

/** What happened to a batch's chunks, as the workflow saw it. */
export interface RunFacts {
  /** A chunk failed for good. */
  failed: boolean;
  /** Somebody asked to cancel the batch. */
  cancelRequested: boolean;
  /** The chunks ended before the deadline timer fired. */
  settledInTime: boolean;
  /** A chunk reported that the deadline stopped it before its last line (counted only where patched). */
  cutShort: boolean;
}

/** The outcome of a batch whose chunks ran: a failure wins over a cancel, a cancel over expiry. */
export function decideOutcome(facts: RunFacts): BatchOutcome {
  if (facts.failed) return 'failed';
  if (facts.cancelRequested) return 'cancelled';
  if (!facts.settledInTime || facts.cutShort) return 'expired';
  return 'completed';
}
