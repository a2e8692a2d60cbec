import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { BatchRecord } from '../common/batch';
import type { BudgetState, LeaseRequest } from '../common/upstream-budget';
import type { BatchProgress, ChunkCounts } from '../common/batch-progress';
import { CHUNK_PROGRESS_SIGNAL } from '../common/batch-progress';

/**
 * The batch as it stands now: status, counts, usage, timestamps, with the running chunks' last reports
 * counted. Answered without touching history.
 */
export const getBatchQuery = defineQuery<BatchRecord>('getBatch');

/**
 * The batch with its finished chunks counted, and apart from them what each running chunk last reported, so
 * that the API can put fresher figures (the chunks' heartbeats) in their place without counting one twice.
 */
export const getProgressQuery = defineQuery<BatchProgress>('getProgress');

/**
 * A running chunk's counts since it started, sent by the chunk with growing spacing (counts only: it is
 * history). The workflow shows them in its query, memo and current details until the chunk's result is in.
 */
export const chunkProgressSignal = defineSignal<[ChunkCounts]>(CHUNK_PROGRESS_SIGNAL);

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

/**
 * Search attributes, so operators find batches in the Web UI and with
 * `temporal workflow list --query "BatchStatus='in_progress'"`. Registered by `npm start` and by the API at
 * start-up where it may (see README for clusters); a batch only sets them when they were registered.
 */
export const BATCH_STATUS = defineSearchAttributeKey('BatchStatus', SearchAttributeType.KEYWORD);
export const BATCH_ENDPOINT = defineSearchAttributeKey('BatchEndpoint', SearchAttributeType.KEYWORD);
export const BATCH_CREATED_AT = defineSearchAttributeKey('BatchCreatedAt', SearchAttributeType.DATETIME);
export const BATCH_MODEL = defineSearchAttributeKey('BatchModel', SearchAttributeType.KEYWORD);
/** The tenant (a hash of its API key), never the key. */
export const BATCH_OWNER = defineSearchAttributeKey('BatchOwner', SearchAttributeType.KEYWORD);

/** True while the batch, at the pace it runs, would not finish before its deadline. */
export const BATCH_AT_RISK = defineSearchAttributeKey('BatchAtRisk', SearchAttributeType.BOOL);

export const BATCH_SEARCH_ATTRIBUTES = [
  BATCH_STATUS,
  BATCH_ENDPOINT,
  BATCH_CREATED_AT,
  BATCH_MODEL,
  BATCH_OWNER,
  BATCH_AT_RISK,
];

/** How each search attribute type is named by the `temporal` CLI (`--search-attribute Name=Type`). */
export const CLI_SEARCH_ATTRIBUTE_TYPE: Record<string, string> = {
  KEYWORD: 'Keyword',
  DATETIME: 'Datetime',
  BOOL: 'Bool',
};

/** The memo key of the small summary a batch keeps current, readable with `describe` without a worker. */
export const BATCH_SUMMARY_MEMO = 'summary';

/** A worker takes or renews its lease on an upstream's concurrency; the answer is its share. */
export const renewLeaseUpdate = defineUpdate<number, [LeaseRequest]>('renewLease');
/** The leases as they stand, for operators (`temporal workflow query`). */
export const budgetQuery = defineQuery<BudgetState>('budget');

/** The workflow type; never rename it, it is stored in every history. */
export const UPSTREAM_BUDGET_WORKFLOW_TYPE = 'upstreamBudgetWorkflow';
