import type { BatchRecord } from '../../common/batch';
import { emptyUsage } from '../../common/batch';
import { newBatchId } from '../../storage';

export interface NewBatchRecordOptions {
  inputFileId: string;
  owner?: string;
  /** Seconds from now to the batch's deadline (`expires_at`); negative for one already passed. */
  expiresInSeconds?: number;
  webhookUrl?: string | null;
}

/** The record of a batch just created, as the API builds it (api/batch-service.ts): validating, nothing counted. */
export function newBatchRecord(options: NewBatchRecordOptions): BatchRecord {
  const now = Math.floor(Date.now() / 1000);
  return {
    owner: options.owner ?? 'tenant-test',
    webhookUrl: options.webhookUrl ?? null,
    outputExpiresAfterSeconds: null,
    batch: {
      id: newBatchId(),
      object: 'batch',
      endpoint: '/v1/chat/completions',
      model: null,
      errors: null,
      input_file_id: options.inputFileId,
      completion_window: '24h',
      status: 'validating',
      output_file_id: null,
      error_file_id: null,
      created_at: now,
      in_progress_at: null,
      expires_at: now + (options.expiresInSeconds ?? 24 * 3600),
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      usage: emptyUsage(),
      metadata: null,
    },
  };
}
