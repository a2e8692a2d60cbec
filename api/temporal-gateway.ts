import {
  ApplicationFailure,
  Client,
  Connection,
  defaultPayloadConverter,
  QueryNotRegisteredError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import type { WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { BatchRecord, BatchWorkflowInput } from '../common/batch';
import { BATCH_STATUSES } from '../common/batch';
import type { ChunkCounts } from '../common/batch-progress';
import { mergeReports, withRunningChunks } from '../common/batch-progress';
import type { batchWorkflow } from '../workflows';
import {
  BATCH_CREATED_AT,
  BATCH_ENDPOINT,
  BATCH_NOT_CANCELLABLE,
  BATCH_OWNER,
  BATCH_SEARCH_ATTRIBUTES,
  BATCH_STATUS,
  BATCH_SUMMARY_MEMO,
  BATCH_WORKFLOW_TYPE,
  cancelBatchUpdate,
  getBatchQuery,
  getProgressQuery,
} from '../workflows/definitions';
import { ConflictError, NotFoundError, ServiceUnavailableError } from './errors';
import type { WorkflowMetadata } from './workflow-metadata';

/** What the API asks of Temporal. Every Temporal error is translated to an API error here and nowhere else. */
export interface BatchGateway {
  /**
   * Starts the batch's workflow (its id is the batch id), with what the Web UI shows of it. Throws
   * {@link ConflictError} if it already exists.
   */
  start(input: BatchWorkflowInput, metadata?: WorkflowMetadata): Promise<void>;
  /**
   * The live batch: the workflow's query, with each running chunk counted by its last heartbeat. Throws
   * {@link NotFoundError} when no such workflow exists.
   */
  query(batchId: string): Promise<BatchRecord>;
  /** Sends the cancel update. Throws {@link ConflictError} when the batch can no longer be cancelled. */
  cancel(batchId: string): Promise<BatchRecord>;
  /** Resolves when Temporal answers. */
  check(): Promise<void>;
  /** Whether the Batch* search attributes are registered in the namespace (so batches may set them). */
  readonly searchAttributes: boolean;
  /** How many batches have each status, by the BatchStatus search attribute. */
  countByStatus(): Promise<Record<string, number>>;
  /** How many running batches would miss their deadline at their pace, by the BatchAtRisk search attribute. */
  countAtRisk(): Promise<number>;
  close(): Promise<void>;
}

/** How long a query or update may wait for a worker before the API falls back or gives up. */
const RPC_DEADLINE_MS = 10_000;

/** Connects to Temporal and returns the gateway over that connection. */
export async function connectTemporal(options: {
  address: string;
  namespace: string;
  taskQueue: string;
}): Promise<BatchGateway> {
  const connection = await Connection.connect({ address: options.address });
  const client = new Client({ connection, namespace: options.namespace });
  const searchAttributes = await ensureSearchAttributes(connection, options.namespace);
  return createTemporalGateway(client, options.taskQueue, () => connection.close(), searchAttributes);
}

const INDEXED_TYPE: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  DATETIME: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  BOOL: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
};

/**
 * Registers the Batch* search attributes that the namespace lacks, where the connection may (a dev server or
 * a self-hosted cluster; Temporal Cloud registers them in its console). Resolves to whether all are there.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<boolean> {
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = BATCH_SEARCH_ATTRIBUTES.filter((key) => customAttributes?.[key.name] === undefined);
    if (missing.length > 0) {
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(missing.map((key) => [key.name, INDEXED_TYPE[key.type]])),
      });
    }
    return true;
  } catch {
    return false;
  }
}

export function createTemporalGateway(
  client: Client,
  taskQueue: string,
  close: () => Promise<void>,
  searchAttributes = false,
): BatchGateway {
  const withDeadline = <T>(fn: () => Promise<T>) => client.withDeadline(Date.now() + RPC_DEADLINE_MS, fn);
  return {
    async start(input, metadata) {
      try {
        const { batch, owner } = input.record;
        await client.workflow.start<typeof batchWorkflow>(BATCH_WORKFLOW_TYPE, {
          workflowId: batch.id,
          taskQueue,
          args: [input],
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          // User metadata for the Web UI (not history payload): the list shows the summary.
          ...(metadata !== undefined ? metadata : {}),
          ...(input.options.searchAttributes
            ? {
                typedSearchAttributes: [
                  { key: BATCH_STATUS, value: batch.status },
                  { key: BATCH_ENDPOINT, value: batch.endpoint },
                  { key: BATCH_CREATED_AT, value: new Date(batch.created_at * 1000) },
                  { key: BATCH_OWNER, value: owner },
                ],
                memo: { [BATCH_SUMMARY_MEMO]: { status: batch.status, request_counts: batch.request_counts } },
              }
            : {}),
        });
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) {
          throw new ConflictError(`A batch with id '${input.record.batch.id}' already exists.`);
        }
        throw unavailable(err);
      }
    },

    async query(batchId) {
      try {
        return await withDeadline(() => liveRecord(client.workflow.getHandle(batchId)));
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw notFound(batchId);
        throw unavailable(err);
      }
    },

    async cancel(batchId) {
      try {
        return await withDeadline(() => client.workflow.getHandle(batchId).executeUpdate(cancelBatchUpdate));
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw notFound(batchId);
        if (
          err instanceof WorkflowUpdateFailedError &&
          err.cause instanceof ApplicationFailure &&
          err.cause.type === BATCH_NOT_CANCELLABLE
        ) {
          throw new ConflictError(err.cause.message);
        }
        throw unavailable(err);
      }
    },

    async check() {
      try {
        await withDeadline(() => client.workflowService.getSystemInfo({}));
      } catch (err) {
        throw unavailable(err);
      }
    },

    async countByStatus() {
      const counts = await Promise.all(
        BATCH_STATUSES.map(async (status) => {
          const query = `WorkflowType='${BATCH_WORKFLOW_TYPE}' AND BatchStatus='${status}'`;
          return [status, (await withDeadline(() => client.workflow.count(query))).count] as const;
        }),
      );
      return Object.fromEntries(counts);
    },

    async countAtRisk() {
      const query = `WorkflowType='${BATCH_WORKFLOW_TYPE}' AND ExecutionStatus='Running' AND BatchAtRisk=true`;
      return (await withDeadline(() => client.workflow.count(query))).count;
    },

    close,
    searchAttributes,
  };
}

/**
 * A running batch as it stands: the workflow's record, with each running chunk counted by the freshest of
 * its last heartbeat (which Temporal keeps with the pending activity) and its last report to the workflow.
 * The two reads go out together; a chunk that finished in between is counted once, by its result. Only
 * counts are read, nothing enters history. A workflow from before `getProgress` answers `getBatch` as it is.
 */
async function liveRecord(handle: WorkflowHandle): Promise<BatchRecord> {
  const [progress, heartbeats] = await Promise.all([
    handle.query(getProgressQuery).catch((err: unknown) => {
      if (err instanceof QueryNotRegisteredError) return null;
      throw err;
    }),
    // Without the heartbeats the answer is the workflow's own, a little older: never an error.
    handle.describe().then(chunkHeartbeats, () => []),
  ]);
  if (progress === null) return handle.query(getBatchQuery);
  return withRunningChunks(progress.record, mergeReports(progress, heartbeats));
}

/** The counts in the last heartbeat of each running chunk (those that name their chunk). */
function chunkHeartbeats(description: WorkflowExecutionDescription): ChunkCounts[] {
  const reports: ChunkCounts[] = [];
  for (const activity of description.raw.pendingActivities ?? []) {
    const payload = activity.heartbeatDetails?.payloads?.[0];
    if (activity.activityType?.name !== 'executeChunk' || payload == null) continue;
    const beat = defaultPayloadConverter.fromPayload<Partial<ChunkCounts> | null>(payload);
    if (typeof beat?.chunkIndex === 'number' && typeof beat.completed === 'number' && typeof beat.failed === 'number') {
      if (beat.usage !== undefined) reports.push(beat as ChunkCounts);
    }
  }
  return reports;
}

function notFound(batchId: string): NotFoundError {
  return new NotFoundError(`No batch found with id '${batchId}'.`, 'batch_id');
}

function unavailable(err: unknown): ServiceUnavailableError {
  return new ServiceUnavailableError('The batch service is temporarily unavailable. Please retry.', null, null, {
    cause: err,
  });
}
