import { randomBytes } from 'node:crypto';
import express from 'express';
import type { Config } from '../config';
import type { Catalog } from '../storage';
import { createAuth } from './auth';
import { createBatchService } from './batch-service';
import { createErrorHandler } from './error-handler';
import { NotFoundError, ServiceUnavailableError } from './errors';
import { createFileService } from './file-service';
import { batchesRouter } from './routes/batches';
import { filesRouter } from './routes/files';
import type { BatchGateway } from './temporal-gateway';

export type Log = (message: string, fields: Record<string, unknown>) => void;

export interface AppDeps {
  catalog: Catalog;
  gateway: BatchGateway;
  config: Pick<Config, 'api' | 'batch' | 'webhook'>;
  log?: Log;
}

/** A JSON line on stderr. */
export const defaultLog: Log = (message, fields) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), msg: message, ...fields })}\n`);
};

/** The Express app of the API, without `listen()`: the OpenAI Files and Batches routes under `/v1`, and `/healthz`. */
export function createApp({ catalog, gateway, config, log = defaultLog }: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // Batches are polled: a 304 would hide a status change from clients that cache.
  app.set('etag', false);

  app.use((_req, res, next) => {
    res.setHeader('x-request-id', `req_${randomBytes(12).toString('hex')}`);
    next();
  });

  app.get('/healthz', async (_req, res) => {
    try {
      await Promise.all([gateway.check(), catalog.store.check()]);
    } catch (err) {
      throw new ServiceUnavailableError(`Not ready: ${(err as Error).message}`);
    }
    res.json({ status: 'ok' });
  });

  const files = createFileService({ catalog, maxFileBytes: config.batch.maxFileBytes });
  const batches = createBatchService({
    catalog,
    gateway,
    batchConfig: config.batch,
    webhookConfig: config.webhook,
    log,
  });
  app.use('/v1', createAuth(config.api.apiKeys));
  app.use(filesRouter(files));
  app.use(batchesRouter(batches));

  app.use((req) => {
    throw new NotFoundError(`Invalid URL (${req.method} ${req.path})`);
  });
  app.use(createErrorHandler({ log }));
  return app;
}
