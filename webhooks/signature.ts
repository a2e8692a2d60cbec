import { createHmac } from 'node:crypto';

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
