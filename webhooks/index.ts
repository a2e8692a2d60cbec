/**
 * Webhooks: the outbound port to webhook receivers. The URL form and address guard, the batch event, its
 * Standard Webhooks signature, and the sender that POSTs it. Nothing here knows Temporal: the activity maps
 * the sender's errors to failures.
 */
export { batchEvent } from './event';
export type { BatchWebhookEvent } from './event';
export { signatureHeaders } from './signature';
export { createWebhookSender, WebhookDeliveryError, WebhookRefusedError } from './sender';
export type { WebhookConfig, WebhookSender } from './sender';
export { ForbiddenTargetError, webhookDispatcher, webhookTargetProblem } from './target';
export { webhookUrlProblem } from './url';
