/**
 * Pins the webhook sender against a real local HTTP server: a 2xx answer ends a delivery, any other answer
 * (a redirect included, which is not followed) or a failed connection is a retryable WebhookDeliveryError,
 * and a target the address guard forbids is a WebhookRefusedError before anything is sent.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { createLogger } from '../../../telemetry/logger';
import { batchEvent } from '../../../webhooks/event';
import { createWebhookSender, WebhookDeliveryError, WebhookRefusedError } from '../../../webhooks/sender';
import { batchObject } from '../../helpers/batch-object';

const SECRET = 'whsec_c2VjcmV0LWZvci10ZXN0cw==';
const logger = createLogger({ level: 'silent', service: 'test' });

interface Hit {
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
}

describe('createWebhookSender', () => {
  let server: Server;
  let base: string;
  const hits: Hit[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (p: Buffer) => parts.push(p));
      req.on('end', () => {
        hits.push({
          path: req.url ?? '',
          method: req.method ?? '',
          headers: req.headers,
          body: Buffer.concat(parts).toString(),
        });
        if (req.url === '/ok') res.writeHead(204).end();
        else if (req.url === '/redirect') res.writeHead(302, { location: '/ok' }).end();
        else res.writeHead(503).end('busy');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(() => {
    hits.length = 0;
  });
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );

  const insecure = createWebhookSender({ secret: SECRET, allowInsecure: true, logger });
  const strict = createWebhookSender({ secret: SECRET, allowInsecure: false, logger });
  const batch = batchObject('completed');

  it('POSTs the signed event once and ends on a 2xx answer', async () => {
    await insecure.send(`${base}/ok`, batch);
    expect(hits).toHaveLength(1);
    const [hit] = hits;
    expect(hit).toMatchObject({ path: '/ok', method: 'POST', body: JSON.stringify(batchEvent(batch)) });
    expect(hit.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'openai-batch-temporal-webhook/1',
      'webhook-id': batchEvent(batch).id,
    });
    const event = await new OpenAI({ apiKey: 'unused', webhookSecret: SECRET }).webhooks.unwrap(hit.body, hit.headers);
    expect(event).toMatchObject({ type: 'batch.completed', data: { id: batch.id } });
  });

  it('throws a retryable WebhookDeliveryError on a non-2xx answer', async () => {
    const err = await insecure.send(`${base}/busy`, batch).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebhookDeliveryError);
    expect(err).toMatchObject({ name: 'WebhookDeliveryError', status: 503, message: `POST ${base}/busy answered 503` });
  });

  it('does not follow a redirect', async () => {
    const err = await insecure.send(`${base}/redirect`, batch).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebhookDeliveryError);
    expect(err).toMatchObject({ status: 302, message: `POST ${base}/redirect answered 302` });
    expect(hits.map((h) => h.path)).toEqual(['/redirect']);
  });

  it('throws a retryable WebhookDeliveryError when nothing answers', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/ok`;
    await new Promise((resolve) => closed.close(resolve));
    const err = await insecure.send(url, batch).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebhookDeliveryError);
    expect(err).toMatchObject({ status: null, message: expect.stringMatching(`^POST ${url} failed: `) });
  });

  it('refuses a forbidden target before sending anything', async () => {
    const port = new URL(base).port;
    const err = await strict.send(`https://localhost:${port}/ok`, batch).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebhookRefusedError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^Refusing webhook target https://localhost:${port}/ok: the address localhost \\((127\\.0\\.0\\.1|::1)\\) is not public: loopback$`,
      ),
    );
    expect(await strict.send(`${base}/ok`, batch).catch((e: unknown) => e)).toMatchObject({
      name: 'WebhookRefusedError',
      reason: 'expected an HTTPS URL',
    });
    expect(hits).toHaveLength(0);
  });
});
