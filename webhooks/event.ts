import { createHash } from 'node:crypto';
import type { Batch } from '../common/batch';
import type { BatchOutcome } from '../common/batch-lifecycle';
import { endedAt, isOutcome } from '../common/batch-lifecycle';

/** OpenAI's batch webhook event: `client.webhooks.unwrap()` of the official SDKs parses and verifies it. */
export interface BatchWebhookEvent {
  id: string;
  object: 'event';
  type: `batch.${BatchOutcome}`;
  created_at: number;
  data: Batch;
}

/**
 * The event for a batch in a terminal state. Its id and body are the same on every attempt, so a receiver
 * can recognise a retry by `webhook-id`. Throws when the batch is not in a terminal state.
 */
export function batchEvent(batch: Batch): BatchWebhookEvent {
  if (!isOutcome(batch.status)) throw new Error(`Batch ${batch.id} is not in a terminal state (${batch.status})`);
  const type: BatchWebhookEvent['type'] = `batch.${batch.status}`;
  const digest = createHash('sha256').update(`${batch.id}\n${type}`).digest('hex').slice(0, 32);
  return {
    id: `evt_${digest}`,
    object: 'event',
    type,
    created_at: endedAt(batch) ?? Math.floor(Date.now() / 1000),
    data: batch,
  };
}
