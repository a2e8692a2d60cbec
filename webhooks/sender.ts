import { request } from 'undici';
import type { Batch } from '../common/batch';
import type { Logger } from '../telemetry/logger';
import { batchEvent } from './event';
import { signatureHeaders } from './signature';
import { ForbiddenTargetError, webhookDispatcher, webhookTargetProblem } from './target';

/** The webhook part of the configuration. */
export interface WebhookConfig {
  /** `whsec_<base64>` (or any string) for Standard Webhooks signatures; null sends events unsigned. */
  secret: string | null;
  /** Allow `http://` targets (tests, local development). */
  allowInsecure: boolean;
}

/** Thrown when the target may not be reached (its form, or an address it is or resolves to): retrying cannot help. */
export class WebhookRefusedError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`Refusing webhook target ${url}: ${reason}`);
    this.name = 'WebhookRefusedError';
  }
}

/** Thrown when the POST failed or the receiver did not answer 2xx: worth retrying with backoff. */
export class WebhookDeliveryError extends Error {
  constructor(
    message: string,
    /** The receiver's status, or null when no answer came. */
    readonly status: number | null = null,
  ) {
    super(message);
    this.name = 'WebhookDeliveryError';
  }
}

/** Sends batch events to webhook receivers. */
export interface WebhookSender {
  /**
   * POSTs the terminal event of `batch` to `url`, signed per Standard Webhooks, through the address guard.
   * A 2xx answer ends it. Throws {@link WebhookRefusedError} for a target that may not be reached, and
   * {@link WebhookDeliveryError} for any other answer (a redirect included: redirects are not followed) or a
   * failed POST.
   */
  send(url: string, batch: Batch): Promise<void>;
}

const ATTEMPT_TIMEOUT_MS = 15_000;

/** Builds the {@link WebhookSender}: one HTTP dispatcher, public addresses only unless insecure targets are allowed. */
export function createWebhookSender(config: WebhookConfig & { logger: Logger }): WebhookSender {
  const dispatcher = webhookDispatcher(config.allowInsecure);
  return {
    async send(url, batch) {
      // Checked again here: the host may resolve elsewhere now than when the batch was created.
      const problem = await webhookTargetProblem(url, config.allowInsecure);
      if (problem !== null) throw new WebhookRefusedError(url, problem);
      const event = batchEvent(batch);
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
        if (refused !== null) throw new WebhookRefusedError(url, refused.message);
        throw new WebhookDeliveryError(`POST ${url} failed: ${(err as Error).message}`);
      }
      // The host only: a webhook URL may carry a token in its path or query.
      const log = config.logger.child({ batch_id: batch.id, event: event.type, host: new URL(url).host });
      if (status < 200 || status >= 300) {
        log.warn({ status }, 'webhook refused; retrying with backoff');
        throw new WebhookDeliveryError(`POST ${url} answered ${status}`, status);
      }
      log.info({ status }, 'webhook delivered');
    },
  };
}

/** The refusal of the address guard, whether the HTTP client passes it on as it is or as a cause. */
function forbidden(err: unknown): ForbiddenTargetError | null {
  for (let e = err; e instanceof Error; e = e.cause) if (e instanceof ForbiddenTargetError) return e;
  return null;
}
