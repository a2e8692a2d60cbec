import { createHash, createHmac } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { request } from 'undici';
import type { Batch, BatchRecord, BatchStatus } from '../common/batch';
import { FailureType } from '../common/failure-types';
import { ForbiddenTargetError, webhookDispatcher, webhookTargetProblem } from '../webhooks/target';
import type { Logger } from '../telemetry/logger';

/** The webhook part of the configuration. */
export interface WebhookConfig {
  /** `whsec_<base64>` (or any string) for Standard Webhooks signatures; null sends events unsigned. */
  secret: string | null;
  /** Allow `http://` targets (tests, local development). */
  allowInsecure: boolean;
}

export interface DeliverWebhookInput {
  /** The batch in its terminal state, with the URL it was created with. */
  record: BatchRecord;
}

/** OpenAI's batch webhook event: `client.webhooks.unwrap()` of the official SDKs parses and verifies it. */
export interface BatchWebhookEvent {
  id: string;
  object: 'event';
  type: `batch.${'completed' | 'failed' | 'expired' | 'cancelled'}`;
  created_at: number;
  data: Batch;
}

const ATTEMPT_TIMEOUT_MS = 15_000;
const TERMINAL_STAMP: Partial<Record<BatchStatus, keyof Batch>> = {
  completed: 'completed_at',
  failed: 'failed_at',
  expired: 'expired_at',
  cancelled: 'cancelled_at',
};

/** Thrown (and retried by Temporal) when the receiver did not answer 2xx. */
export class WebhookDeliveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookDeliveryError';
  }
}

/**
 * The event for a batch in a terminal state. Its id and body are the same on every attempt, so a receiver
 * can recognise a retry by `webhook-id`.
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

/**
 * Standard Webhooks headers: `webhook-id`, `webhook-timestamp` and, with a secret,
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. A `whsec_` secret is base64 after
 * its prefix, as the SDKs' verifiers read it.
 */
export function signatureHeaders(
  eventId: string,
  body: string,
  secret: string | null,
  timestamp: number = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const headers: Record<string, string> = { 'webhook-id': eventId, 'webhook-timestamp': String(timestamp) };
  if (secret !== null) {
    const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');
    const signature = createHmac('sha256', key).update(`${eventId}.${timestamp}.${body}`).digest('base64');
    headers['webhook-signature'] = `v1,${signature}`;
  }
  return headers;
}

/**
 * Builds `deliverWebhook`: POSTs the terminal event of a batch to its `webhook_url`, signed per Standard
 * Webhooks. A 2xx answer ends it; anything else (a redirect included: redirects are not followed) throws,
 * and Temporal retries with backoff. It never changes the batch.
 */
export function createDeliverWebhook(config: WebhookConfig & { logger: Logger }) {
  const dispatcher = webhookDispatcher(config.allowInsecure);
  return async function deliverWebhook({ record }: DeliverWebhookInput): Promise<void> {
    const url = record.webhookUrl;
    if (url === null) return;
    // Checked again here: the host may resolve elsewhere now than when the batch was created.
    const problem = await webhookTargetProblem(url, config.allowInsecure);
    if (problem !== null) {
      throw ApplicationFailure.nonRetryable(`Refusing webhook target ${url}: ${problem}`, FailureType.WebhookRefused);
    }
    const event = batchEvent(record.batch);
    const body = JSON.stringify(event);
    let status: number;
    try {
      const res = await request(url, {
        // Connects to public addresses only, checked on the addresses the connection uses.
        dispatcher,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'openai-batch-temporal-webhook/1',
          ...signatureHeaders(event.id, body, config.secret),
        },
        body,
        headersTimeout: ATTEMPT_TIMEOUT_MS,
        bodyTimeout: ATTEMPT_TIMEOUT_MS,
      });
      status = res.statusCode;
      await res.body.dump();
    } catch (err) {
      const refused = forbidden(err);
      if (refused !== null) {
        throw ApplicationFailure.nonRetryable(
          `Refusing webhook target ${url}: ${refused.message}`,
          FailureType.WebhookRefused,
        );
      }
      throw new WebhookDeliveryError(`POST ${url} failed: ${(err as Error).message}`);
    }
    // The host only: a webhook URL may carry a token in its path or query.
    const log = config.logger.child({ batch_id: record.batch.id, event: event.type, host: new URL(url).host });
    if (status < 200 || status >= 300) {
      log.warn({ status }, 'webhook refused; retrying with backoff');
      throw new WebhookDeliveryError(`POST ${url} answered ${status}`);
    }
    log.info({ status }, 'webhook delivered');
  };
}

/** The refusal of the address guard, whether the HTTP client passes it on as it is or as a cause. */
function forbidden(err: unknown): ForbiddenTargetError | null {
  for (let e = err; e instanceof Error; e = e.cause) if (e instanceof ForbiddenTargetError) return e;
  return null;
}
