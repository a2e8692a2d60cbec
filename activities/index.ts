/**
 * Activities: every side effect of a batch (reading and writing storage, calling the upstream) happens
 * here, never in `workflows/`. {@link createActivities} builds the object the Worker registers; its
 * dependencies arrive as arguments, so nothing here reads configuration or opens connections itself.
 */
import type { TenantConfig } from '../config';
import type { EmailConfig } from '../notifications';
import type { Catalog } from '../storage';
import type { Logger } from '../telemetry/logger';
import type { WorkerMetrics } from '../telemetry/metrics';
import { createDeliverWebhook } from './deliver-webhook';
import { createExecuteChunk } from './execute-chunk';
import { createFinalizeBatch } from './finalize-batch';
import { createNotifyBatchEnd } from './notify-batch-end';
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
  /** SMTP and the dashboard link, for the e-mail when a batch ends. */
  email: EmailConfig;
  /** The named tenants, for their e-mail addresses. */
  tenants: readonly TenantConfig[];
  logger: Logger;
  metrics: WorkerMetrics;
}

/** The activities of the batch workflow, bound to their dependencies. */
export function createActivities(deps: ActivityDeps) {
  const { catalog, upstream, models, webhook, logger, metrics } = deps;
  const manifests = new ManifestCache(catalog.store);
  return {
    validateInputFile: createValidateInputFile({ catalog, models, logger }),
    executeChunk: createExecuteChunk({ store: catalog.store, upstream, manifests, logger, metrics }),
    finalizeBatch: createFinalizeBatch({ catalog, logger, metrics }),
    deliverWebhook: createDeliverWebhook({ ...webhook, logger }),
    notifyBatchEnd: createNotifyBatchEnd({ catalog, email: deps.email, tenants: deps.tenants, logger }),
  };
}

export type Activities = ReturnType<typeof createActivities>;

export { UpstreamClient } from '../upstream/client';
export type { UpstreamClientConfig } from '../upstream/client';
export type { ExecuteChunkInput, ExecuteChunkOutput } from './execute-chunk';
export type { FinalizeBatchInput } from './finalize-batch';
export type { DeliverWebhookInput } from './deliver-webhook';
export type { NotifyBatchEndInput, NotifyBatchEndOutput } from './notify-batch-end';
export type { BatchWebhookEvent, WebhookConfig } from '../webhooks';
export type { ValidateInputFileInput, ValidateInputFileOutput } from './validate-input-file';
