/**
 * Activities: every side effect of a batch (reading and writing storage, calling the upstream) happens
 * here, never in `workflows/`. {@link createActivities} builds the object the Worker registers; its
 * dependencies arrive as arguments, so nothing here reads configuration or opens connections itself.
 */
import type { Catalog } from '../storage';
import type { Logger } from '../telemetry/logger';
import type { WorkerMetrics } from '../telemetry/metrics';
import { createDeliverWebhook } from './deliver-webhook';
import { createExecuteChunk } from './execute-chunk';
import { createFinalizeBatch } from './finalize-batch';
import { ManifestCache } from './batch-parts';
import type { UpstreamClient } from '../upstream/client';
import type { ModelCatalog } from '../upstream/models';
import type { WebhookConfig } from '../webhooks';
import { createValidateInputFile } from './validate-input-file';

export interface ActivityDeps {
  catalog: Catalog;
  upstream: UpstreamClient;
  /** Which models the upstreams serve, for validation. */
  models: Pick<ModelCatalog, 'serves'>;
  webhook: WebhookConfig;
  logger: Logger;
  metrics: WorkerMetrics;
}

/** The activities of the batch workflow, bound to their dependencies. */
export function createActivities({ catalog, upstream, models, webhook, logger, metrics }: ActivityDeps) {
  const manifests = new ManifestCache(catalog.store);
  return {
    validateInputFile: createValidateInputFile({ catalog, models, logger }),
    executeChunk: createExecuteChunk({ store: catalog.store, upstream, manifests, logger, metrics }),
    finalizeBatch: createFinalizeBatch({ catalog, logger, metrics }),
    deliverWebhook: createDeliverWebhook({ ...webhook, logger }),
  };
}

export type Activities = ReturnType<typeof createActivities>;

export { UpstreamClient } from '../upstream/client';
export type { UpstreamClientConfig } from '../upstream/client';
export type { ExecuteChunkInput, ExecuteChunkOutput } from './execute-chunk';
export type { FinalizeBatchInput } from './finalize-batch';
export type { DeliverWebhookInput } from './deliver-webhook';
export type { BatchWebhookEvent, WebhookConfig } from '../webhooks';
export type { ValidateInputFileInput, ValidateInputFileOutput } from './validate-input-file';
