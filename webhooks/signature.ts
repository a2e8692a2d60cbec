import { Webhook } from 'standardwebhooks';

/**
 * Standard Webhooks headers: `webhook-id`, `webhook-timestamp` and, with a secret,
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` (the reference library signs). A
 * `whsec_` secret is base64 after its prefix, any other secret is its UTF-8 bytes, as the openai SDK's
 * verifier reads them.
 */
export function signatureHeaders(
  eventId: string,
  body: string,
  secret: string | null,
  timestamp: number = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const headers: Record<string, string> = { 'webhook-id': eventId, 'webhook-timestamp': String(timestamp) };
  if (secret !== null) {
    headers['webhook-signature'] = new Webhook(signingKey(secret), { format: 'raw' }).sign(
      eventId,
      new Date(timestamp * 1000),
      body,
    );
  }
  return headers;
}

/**
 * The key bytes, decoded here rather than by the library: it base64-decodes every secret, strictly, so a
 * secret without `whsec_` or with a URL-safe or stray character would sign differently or throw.
 */
function signingKey(secret: string): Uint8Array {
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');
  // The library refuses an empty key; HMAC pads a key with zero bytes, so one zero byte is the same key.
  return key.length > 0 ? key : new Uint8Array(1);
}
