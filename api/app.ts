import { randomBytes } from 'node:crypto';
import express from 'express';
import type { ApiConfig } from '../config';
import type { Catalog } from '../storage';
import type { Logger } from '../telemetry/logger';
import type { ApiMetrics, Registry } from '../telemetry/metrics';
import { createAuth } from './auth';
import { createBatchService } from './batch-service';
import { dashboardRouter } from './dashboard-route';
import { batchCreateRateLimit } from './rate-limit';
import { createErrorHandler } from './error-handler';
import { NotFoundError, ServiceUnavailableError } from './errors';
import { createFileService } from './file-service';
import { batchesRouter } from './routes/batches';
import { filesRouter } from './routes/files';
import type { BatchGateway } from './temporal-gateway';
import { modelsRouter } from './routes/models';
import type { ModelCatalog } from '../upstream/models';

export interface AppDeps {
  catalog: Catalog;
  gateway: BatchGateway;
  config: Pick<ApiConfig, 'api' | 'batch' | 'webhook' | 'tenants' | 'temporal'>;
  logger: Logger;
  /** The models the upstreams serve, for `GET /v1/models`. */
  models: Pick<ModelCatalog, 'list'>;
  /** Served at `GET /metrics`, with the API's own counters in it. */
  metrics: { registry: Registry; api: ApiMetrics };
  /** The built dashboard served at `GET /` (null: none). */
  dashboardDir?: string | null;
}

/**
 * The Express app of the API, without `listen()`: the OpenAI Files and Batches routes under `/v1`,
 * `/healthz`, `/metrics`, and the dashboard at `/`. Every response carries `x-request-id`; every request is logged once, with
 * its id, route, status and duration (never a body or a key).
 */
export function createApp(deps: AppDeps): express.Express {
  const { catalog, gateway, config, logger, models, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  // Batches are polled: a 304 would hide a status change from clients that cache.
  app.set('etag', false);

  app.use((req, res, next) => {
    const requestId = `req_${randomBytes(12).toString('hex')}`;
    res.setHeader('x-request-id', requestId);
    res.locals.requestId = requestId;
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = `${req.baseUrl}${(req.route as { path?: string } | undefined)?.path ?? ''}` || 'unmatched';
      metrics.api.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      metrics.api.httpLatency.observe({ method: req.method, route }, seconds);
      logger.info(
        {
          request_id: requestId,
          method: req.method,
          path: req.path,
          status: res.statusCode,
          duration_ms: Math.round(seconds * 1000),
          owner: res.locals.owner,
          batch_id: res.locals.batchId,
        },
        'request',
      );
    });
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

  app.get('/metrics', async (_req, res) => {
    res.setHeader('content-type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });

  const files = createFileService({ catalog, maxFileBytes: config.batch.maxFileBytes });
  const batches = createBatchService({
    catalog,
    gateway,
    batchConfig: config.batch,
    webhookConfig: config.webhook,
    logger,
  });
  app.use(
    dashboardRouter({
      dir: deps.dashboardDir ?? null,
      temporalUiUrl: config.api.temporalUiUrl,
      namespace: config.temporal.namespace,
    }),
  );
  app.use('/v1', createAuth(config.api.apiKeys, config.tenants));
  app.use(filesRouter(files));
  app.use(batchesRouter(batches, batchCreateRateLimit(config.api.createRateLimitPerHour)));
  app.use(modelsRouter(models));

  app.use((req) => {
    throw new NotFoundError(`Invalid URL (${req.method} ${req.path})`);
  });
  app.use(createErrorHandler({ logger }));
  return app;
}
