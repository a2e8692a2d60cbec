import type { Batch, BatchStatus } from '../../common/batch';
import { emptyUsage } from '../../common/batch';

/** A Batch object in `status`, with the status's timestamp set unless `overrides` say otherwise. */
export function batchObject(status: BatchStatus, overrides: Partial<Batch> = {}): Batch {
  const stamp = `${status}_at`;
  return {
    id: 'batch_01J0000000ABCDEFGHJKMNPQRS',
    object: 'batch',
    endpoint: '/v1/chat/completions',
    model: null,
    errors: null,
    input_file_id: 'file-01J0000000ABCDEFGHJKMNPQRS',
    completion_window: '24h',
    status,
    output_file_id: null,
    error_file_id: null,
    created_at: 1_700_000_000,
    in_progress_at: null,
    expires_at: 1_700_086_400,
    finalizing_at: null,
    completed_at: null,
    failed_at: null,
    expired_at: null,
    cancelling_at: null,
    cancelled_at: null,
    request_counts: { total: 1, completed: 1, failed: 0 },
    usage: emptyUsage(),
    metadata: null,
    ...(stamp in { completed_at: 1, failed_at: 1, expired_at: 1, cancelled_at: 1 } ? { [stamp]: 1_700_000_100 } : {}),
    ...overrides,
  };
}
