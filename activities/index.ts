/**
 * Activities: every side effect of a batch (reading and writing storage, calling the upstream) happens
 * here, never in `workflows/`. {@link createActivities} builds the object the Worker registers; its
 * dependencies arrive as arguments, so nothing here reads configuration or opens connections itself.
 */
import type { Catalog } from '../storage';
import { createDeliverWebhook } from './deliver-webhook';
import type { WebhookConfig } from './deliver-webhook';
import { createExecuteChunk } from './execute-chunk';
import { createFinalizeBatch } from './finalize-batch';
import { ManifestCache } from './manifest';
import type { UpstreamClient } from './upstream-client';
import { createValidateInputFile } from './validate-input-file';

export interface ActivityDeps {
  catalog: Catalog;
  upstream: UpstreamClient;
  webhook: WebhookConfig;
}

/** The activities of the batch workflow, bound to their dependencies. */
export function createActivities({ catalog, upstream, webhook }: ActivityDeps) {
  const manifests = new ManifestCache(catalog.store);
  return {
    validateInputFile: createValidateInputFile({ catalog }),
    executeChunk: createExecuteChunk({ store: catalog.store, upstream, manifests }),
    finalizeBatch: createFinalizeBatch({ catalog }),
    deliverWebhook: createDeliverWebhook(webhook),
  };
}

export type Activities = ReturnType<typeof createActivities>;

export { UpstreamClient } from './upstream-client';
export type { UpstreamClientConfig } from './upstream-client';
export type { ExecuteChunkInput, ExecuteChunkOutput } from './execute-chunk';
export type { FinalizeBatchInput, BatchOutcome } from './finalize-batch';
export type { BatchWebhookEvent, DeliverWebhookInput, WebhookConfig } from './deliver-webhook';
export { batchEvent, signatureHeaders } from './deliver-webhook';
export type { ValidateInputFileInput, ValidateInputFileOutput } from './validate-input-file';
