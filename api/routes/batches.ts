import express, { Router } from 'express';
import type { RequestHandler } from 'express';
import type { BatchService } from '../batch-service';
import { BatchCreateParams, BatchListParams, toBatchObject } from '../schemas/batch';
import { toCursorPage } from '../schemas/pagination';
import { parseParams } from '../schemas/parse';
import { methodNotAllowed } from './method-not-allowed';

/** `/v1/batches`: create (rate-limited per key), list (newest first), retrieve, cancel. */
export function batchesRouter(batches: BatchService, createLimit: RequestHandler): Router {
  const router = Router();
  const json = express.json({ limit: '1mb' });
  // The request log line carries the batch id.
  router.param('batch_id', (_req, res, next, id: string) => {
    res.locals.batchId = id;
    next();
  });

  router
    .route('/v1/batches')
    .post(createLimit, json, async function createBatch(req, res) {
      const params = parseParams(BatchCreateParams, req.body);
      const batch = await batches.create(res.locals.tenant, params);
      res.locals.batchId = batch.batch.id;
      res.json(toBatchObject(batch));
    })
    .get(async function listBatches(req, res) {
      const params = parseParams(BatchListParams, req.query);
      const page = await batches.list(res.locals.owner, params);
      res.json(toCursorPage(page.data, page.hasMore));
    })
    .all(methodNotAllowed);

  router
    .route('/v1/batches/:batch_id')
    .get(async function retrieveBatch(req, res) {
      res.json(toBatchObject(await batches.load(req.params.batch_id, res.locals.owner)));
    })
    .all(methodNotAllowed);

  router
    .route('/v1/batches/:batch_id/cancel')
    .post(async function cancelBatch(req, res) {
      res.json(toBatchObject(await batches.cancel(req.params.batch_id, res.locals.owner)));
    })
    .all(methodNotAllowed);

  return router;
}
