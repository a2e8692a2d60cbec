import { Router } from 'express';
import type { ModelCatalog } from '../../upstream/models';
import { NotFoundError } from '../errors';
import { methodNotAllowed } from './method-not-allowed';

/** `/v1/models`: the models the batch API can run, in OpenAI's shapes (`models.list()`, `models.retrieve()`). */
export function modelsRouter(models: Pick<ModelCatalog, 'list'>): Router {
  const router = Router();
  router
    .route('/v1/models')
    .get(async function listModels(_req, res) {
      res.json({ object: 'list', data: await models.list() });
    })
    .all(methodNotAllowed);

  router
    .route('/v1/models/:model')
    .get(async function retrieveModel(req, res) {
      const found = (await models.list()).find((m) => m.id === req.params.model);
      if (found === undefined) {
        throw new NotFoundError(
          `The model '${req.params.model}' does not exist or you do not have access to it.`,
          'model',
          'model_not_found',
        );
      }
      res.json(found);
    })
    .all(methodNotAllowed);
  return router;
}
