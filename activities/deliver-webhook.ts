import { ApplicationFailure } from '@temporalio/activity';
import type { BatchRecord } from '../common/batch';
import { FailureType } from '../common/failure-types';
import type { Logger } from '../telemetry/logger';
import { createWebhookSender, WebhookRefusedError } from '../webhooks';
import type { WebhookConfig } from '../webhooks';

export interface DeliverWebhookInput {
  /** The batch in its terminal state, with the URL it was created with. */
  record: BatchRecord;
}

/**
 * Builds `deliverWebhook`: sends the terminal event of a batch to its `webhook_url` (see
 * {@link createWebhookSender}). A refused target fails it for good ({@link FailureType.WebhookRefused});
 * any other failure is thrown as it is, and Temporal retries with backoff. It never changes the batch.
 */
export function createDeliverWebhook(config: WebhookConfig & { logger: Logger }) {
  const sender = createWebhookSender(config);
  return async function deliverWebhook({ record }: DeliverWebhookInput): Promise<void> {
    if (record.webhookUrl === null) return;
    try {
      await sender.send(record.webhookUrl, record.batch);
    } catch (err) {
      if (err instanceof WebhookRefusedError) {
        throw ApplicationFailure.nonRetryable(err.message, FailureType.WebhookRefused);
      }
      throw err;
    }
  };
}
