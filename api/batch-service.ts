import type { Batch, BatchExecutionOptions, BatchRecord, BatchTenant } from '../common/batch';
import { isTerminalStatus } from '../common/batch';
import { cancelRefusal, newBatch } from '../common/batch-lifecycle';
import { webhookTargetProblem } from '../webhooks/target';
import type { ApiConfig } from '../config';
import type { Catalog } from '../storage';
import type { Logger } from '../telemetry/logger';
import { newBatchId } from '../storage';
import { BadRequestError, ConflictError, NotFoundError } from './errors';
import type { BatchCreateParams } from './schemas/batch';
import type { BatchGateway } from './temporal-gateway';
import { inputFacts, workflowMetadata } from './workflow-metadata';

export interface BatchServiceDeps {
  catalog: Catalog;
  gateway: BatchGateway;
  batchConfig: ApiConfig['batch'];
  webhookConfig: ApiConfig['webhook'];
  logger: Logger;
}

export type BatchService = ReturnType<typeof createBatchService>;

/**
 * Creates, reads, lists and cancels batches. A running batch is read from its workflow's query; a finished
 * one from `batch.json`, which outlives the workflow's retention in Temporal.
 */
export function createBatchService({ catalog, gateway, batchConfig, webhookConfig, logger }: BatchServiceDeps) {
  const options: BatchExecutionOptions = {
    chunkMinLines: batchConfig.chunkMinLines,
    chunkMaxLines: batchConfig.chunkMaxLines,
    chunkMaxBytes: batchConfig.chunkMaxBytes,
    chunkWindow: batchConfig.chunkWindow,
    maxRequests: batchConfig.maxRequests,
    maxLineBytes: batchConfig.maxLineBytes,
    maxEmbeddingInputs: batchConfig.maxEmbeddingInputs,
    chunkHeartbeatTimeoutSeconds: batchConfig.chunkHeartbeatTimeoutSeconds,
    deadlineClasses: Object.values(batchConfig.completionWindows).sort((a, b) => a - b),
  };

  /** The current record of a batch the owner may see; throws {@link NotFoundError} otherwise. */
  async function load(batchId: string, owner: string): Promise<BatchRecord> {
    const stored = await catalog.getBatch(batchId);
    if (stored !== null && stored.owner !== owner) throw notFound(batchId);
    if (stored !== null && isTerminalStatus(stored.batch.status)) return stored;
    let live: BatchRecord;
    try {
      live = await gateway.query(batchId);
    } catch (err) {
      // No worker answering, or Temporal down: the error (503) stands. The stored record of a running batch
      // is the copy written at creation, and answering from it would move its status backwards.
      if (err instanceof NotFoundError) {
        if (stored !== null) return stored;
        throw notFound(batchId);
      }
      throw err;
    }
    if (live.owner !== owner) throw notFound(batchId);
    return live;
  }

  return {
    load,

    async create(tenant: BatchTenant, params: BatchCreateParams): Promise<BatchRecord> {
      const owner = tenant.name;
      const runOptions = { ...options, searchAttributes: gateway.searchAttributes };
      const webhookUrl = params.webhook_url ?? null;
      if (webhookUrl !== null) {
        const problem = await webhookTargetProblem(webhookUrl, webhookConfig.allowInsecure);
        if (problem !== null) {
          throw new BadRequestError(`Invalid 'webhook_url': ${problem}.`, 'webhook_url', 'invalid_url');
        }
      }
      const windowSeconds = batchConfig.completionWindows[params.completion_window];
      if (windowSeconds === undefined) {
        const supported = Object.keys(batchConfig.completionWindows).map((w) => `'${w}'`);
        throw new BadRequestError(
          `Invalid value: '${params.completion_window}'. Supported values are: ${supported.join(', ')}.`,
          'completion_window',
          'invalid_value',
        );
      }
      const batch = newBatch({
        id: newBatchId(),
        endpoint: params.endpoint,
        inputFileId: params.input_file_id,
        completionWindow: params.completion_window,
        createdAt: Math.floor(Date.now() / 1000),
        windowSeconds,
        metadata: params.metadata ?? null,
      });
      const record: BatchRecord = {
        owner,
        tenant,
        batch,
        webhookUrl,
        outputExpiresAfterSeconds: params.output_expires_after?.seconds ?? null,
      };
      await gateway.start({ record, options: runOptions }, workflowMetadata(record, await inputFacts(catalog, record)));
      // The workflow writes this too; answering 200 matters more than this write, since a 5xx makes the
      // SDK retry and create a second batch.
      await catalog.putBatch(record, { ifAbsent: true }).catch((err: unknown) => {
        logger.warn(
          { batch_id: batch.id, err: String(err) },
          'could not store batch.json at creation; the workflow will',
        );
      });
      logger.info(
        { batch_id: batch.id, owner, endpoint: batch.endpoint, input_file_id: batch.input_file_id },
        'batch created',
      );
      return record;
    },

    async list(owner: string, params: { after?: string; limit: number }): Promise<{ data: Batch[]; hasMore: boolean }> {
      const page = await catalog.listBatchIds(owner, params);
      const records = await Promise.all(
        page.items.map((id) =>
          load(id, owner).catch((err: unknown) => {
            if (err instanceof NotFoundError) return null;
            throw err;
          }),
        ),
      );
      return { data: records.filter((r): r is BatchRecord => r !== null).map((r) => r.batch), hasMore: page.hasMore };
    },

    async cancel(batchId: string, owner: string): Promise<BatchRecord> {
      const current = await load(batchId, owner);
      const { status } = current.batch;
      const refusal = cancelRefusal(status);
      if (refusal !== null) throw new ConflictError(refusal);
      if (status === 'cancelled' || status === 'cancelling') return current;
      return gateway.cancel(batchId);
    },
  };
}

function notFound(batchId: string): NotFoundError {
  return new NotFoundError(`No batch found with id '${batchId}'.`, 'batch_id');
}
