import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { BatchRecord } from '../common/batch';

/** The batch as it stands now: status, counts, usage, timestamps. Answered without touching history. */
export const getBatchQuery = defineQuery<BatchRecord>('getBatch');

/**
 * Asks the batch to stop: it moves to `cancelling` at once and to `cancelled` once in-flight requests
 * have stopped and partial results are written. Rejected (by the validator, so nothing enters history)
 * for a batch that is finalizing or already ended otherwise than cancelled.
 */
export const cancelBatchUpdate = defineUpdate<BatchRecord>('cancelBatch');

/** `ApplicationFailure.type` of a rejected cancel; the API answers it with 409. */
export const BATCH_NOT_CANCELLABLE = 'BatchNotCancellable';

/** The workflow type; never rename it, it is stored in every history. */
export const BATCH_WORKFLOW_TYPE = 'batchWorkflow';
