import {
  ApplicationFailure,
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import type { BatchRecord, BatchWorkflowInput } from '../common/batch';
import type { batchWorkflow } from '../workflows';
import { BATCH_NOT_CANCELLABLE, BATCH_WORKFLOW_TYPE, cancelBatchUpdate, getBatchQuery } from '../workflows/definitions';
import { ConflictError, NotFoundError, ServiceUnavailableError } from './errors';

/** What the API asks of Temporal. Every Temporal error is translated to an API error here and nowhere else. */
export interface BatchGateway {
  /** Starts the batch's workflow; its id is the batch id. Throws {@link ConflictError} if it already exists. */
  start(input: BatchWorkflowInput): Promise<void>;
  /** The live batch from the workflow query. Throws {@link NotFoundError} when no such workflow exists. */
  query(batchId: string): Promise<BatchRecord>;
  /** Sends the cancel update. Throws {@link ConflictError} when the batch can no longer be cancelled. */
  cancel(batchId: string): Promise<BatchRecord>;
  /** Resolves when Temporal answers. */
  check(): Promise<void>;
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
  return createTemporalGateway(client, options.taskQueue, () => connection.close());
}

export function createTemporalGateway(client: Client, taskQueue: string, close: () => Promise<void>): BatchGateway {
  const withDeadline = <T>(fn: () => Promise<T>) => client.withDeadline(Date.now() + RPC_DEADLINE_MS, fn);
  return {
    async start(input) {
      try {
        await client.workflow.start<typeof batchWorkflow>(BATCH_WORKFLOW_TYPE, {
          workflowId: input.record.batch.id,
          taskQueue,
          args: [input],
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
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
        return await withDeadline(() => client.workflow.getHandle(batchId).query(getBatchQuery));
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

    close,
  };
}

function notFound(batchId: string): NotFoundError {
  return new NotFoundError(`No batch found with id '${batchId}'.`, 'batch_id');
}

function unavailable(err: unknown): ServiceUnavailableError {
  const e = new ServiceUnavailableError('The batch service is temporarily unavailable. Please retry.');
  (e as { cause?: unknown }).cause = err;
  return e;
}
