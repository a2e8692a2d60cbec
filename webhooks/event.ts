import { createHash } from 'node:crypto';
import type { Batch, BatchStatus } from '../common/batch';

/** OpenAI's batch webhook event: `client.webhooks.unwrap()` of the official SDKs parses and verifies it. */
export interface BatchWebhookEvent {
  id: string;
  object: 'event';
  type: `batch.${'completed' | 'failed' | 'expired' | 'cancelled'}`;
  created_at: number;
  data: Batch;
}

const TERMINAL_STAMP: Partial<Record<BatchStatus, keyof Batch>> = {
  completed: 'completed_at',
  failed: 'failed_at',
  expired: 'expired_at',
  cancelled: 'cancelled_at',
};

/**
 * The event for a batch in a terminal state. Its id and body are the same on every attempt, so a receiver
 * can recognise a retry by `webhook-id`. Throws when the batch is not in a terminal state.
 */
export function batchEvent(batch: Batch): BatchWebhookEvent {
  const stamp = TERMINAL_STAMP[batch.status];
  if (stamp === undefined) throw new Error(`Batch ${batch.id} is not in a terminal state (${batch.status})`);
  const type = `batch.${batch.status}` as BatchWebhookEvent['type'];
  const digest = createHash('sha256').update(`${batch.id}\n${type}`).digest('hex').slice(0, 32);
  return {
    id: `evt_${digest}`,
    object: 'event',
    type,
    created_at: (batch[stamp] as number | null) ?? Math.floor(Date.now() / 1000),
    data: batch,
  };
}
