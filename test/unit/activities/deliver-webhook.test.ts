/**
 * Pins how deliverWebhook maps the sender's outcome onto Temporal: nothing to do without a URL, a refused
 * target is a non-retryable `WebhookRefused` failure, any other failure is thrown for Temporal to retry.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { createDeliverWebhook } from '../../../activities/deliver-webhook';
import type { BatchRecord } from '../../../common/batch';
import { FailureType } from '../../../common/failure-types';
import { createLogger } from '../../../telemetry/logger';
import { WebhookDeliveryError } from '../../../webhooks';
import { batchObject } from '../../helpers/batch-object';

const logger = createLogger({ level: 'silent', service: 'test' });
const record = (webhookUrl: string | null): BatchRecord => ({
  owner: 'me',
  batch: batchObject('completed'),
  webhookUrl,
  outputExpiresAfterSeconds: null,
});

describe('deliverWebhook', () => {
  let server: Server;
  let base: string;
  let answer = 200;
  let hits = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      hits++;
      req.resume();
      req.on('end', () => res.writeHead(answer).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );

  it('does nothing for a batch without a webhook', async () => {
    const deliverWebhook = createDeliverWebhook({ secret: null, allowInsecure: true, logger });
    hits = 0;
    await expect(deliverWebhook({ record: record(null) })).resolves.toBeUndefined();
    expect(hits).toBe(0);
  });

  it('delivers, and throws a retryable error on a failing receiver', async () => {
    const deliverWebhook = createDeliverWebhook({ secret: null, allowInsecure: true, logger });
    answer = 200;
    await expect(deliverWebhook({ record: record(`${base}/hook`) })).resolves.toBeUndefined();
    answer = 500;
    const err = await deliverWebhook({ record: record(`${base}/hook`) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebhookDeliveryError);
    expect(err).not.toBeInstanceOf(ApplicationFailure);
  });

  it('fails for good on a refused target', async () => {
    const deliverWebhook = createDeliverWebhook({ secret: null, allowInsecure: false, logger });
    const err = await deliverWebhook({ record: record('https://127.0.0.1:8443/hook') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({
      type: FailureType.WebhookRefused,
      nonRetryable: true,
      message: 'Refusing webhook target https://127.0.0.1:8443/hook: the address 127.0.0.1 is not public: loopback',
    });
  });
});
