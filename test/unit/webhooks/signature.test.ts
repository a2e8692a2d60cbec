/**
 * Pins the Standard Webhooks signature: the exact header values for a `whsec_` secret and for a secret
 * used as its UTF-8 bytes, no signature without a secret, and the official `openai` SDK verifying both.
 */
import OpenAI from 'openai';
import { signatureHeaders } from '../../../webhooks/signature';

const ID = 'evt_0123';
const BODY = '{"a":"é"}';
const AT = 1_700_000_000;

describe('signatureHeaders', () => {
  // Computed by the hand-written HMAC this project used before: receivers verify these bytes.
  it.each([
    ['whsec_c2VjcmV0LWZvci10ZXN0cw==', 'v1,rrJNzIpnkRg0/aO4D78/nWpgUHYamDcl4NYruEAaI3w='],
    ['plain-secret', 'v1,zupjWOskIC9CTQvEsKxzf4ZQC0fgIIG1J+etPPd6rfU='],
    ['héllo wörld', 'v1,etscrHCScFxE+uq2ELMLZ5wosFmnr1tyuLB9KMVJuZs='],
    // Read leniently after the prefix, as Node's base64 decoder (and the openai SDK's verifier) reads it.
    ['whsec_a-b_c', 'v1,+wLlKmfDwmLc3vWl6LeeC3Ew8DQLAFJbK4b7dZanV5o='],
    ['whsec_', 'v1,qnKlxFoNGxT5qvHsIHUxx3JkiUqCnJAdGQohz+M1QmI='],
  ])('signs with %s', (secret, signature) => {
    expect(signatureHeaders(ID, BODY, secret, AT)).toEqual({
      'webhook-id': ID,
      'webhook-timestamp': String(AT),
      'webhook-signature': signature,
    });
  });

  it('sends no signature without a secret', () => {
    expect(signatureHeaders(ID, BODY, null, AT)).toEqual({ 'webhook-id': ID, 'webhook-timestamp': String(AT) });
  });

  it.each(['whsec_c2VjcmV0LWZvci10ZXN0cw==', 'plain-secret'])(
    "is verified by the openai SDK's webhooks.unwrap (secret %s)",
    async (secret) => {
      const body = JSON.stringify({ id: ID, object: 'event', type: 'batch.completed', created_at: AT, data: {} });
      const headers = signatureHeaders(ID, body, secret);
      const client = new OpenAI({ apiKey: 'unused', webhookSecret: secret });
      await expect(client.webhooks.unwrap(body, headers)).resolves.toMatchObject({ id: ID, type: 'batch.completed' });
      await expect(client.webhooks.unwrap(body, headers, 'whsec_b3RoZXI=')).rejects.toThrow(/signature/);
    },
  );
});
