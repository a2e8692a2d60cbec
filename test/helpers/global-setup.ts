import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { buildDashboard } from '../../api/build-dashboard';
import { ensureFakeGcs, ensureTemporalCli } from '../../scripts/setup';
import { freePort } from './ports';
import { startTemporalDevServer } from '../../standalone/temporal-dev-server';
import type { RunningDevServer } from '../../standalone/temporal-dev-server';

declare global {
  var __TEMPORAL_DEV_SERVER__: RunningDevServer | undefined;
}

/**
 * Starts one in-memory Temporal dev server (the real `temporal` CLI), bundles the workflows and builds the
 * dashboard once, for every contract and integration test. Each test stack uses its own task queue on it.
 */
export default async function globalSetup(): Promise<void> {
  // Found (or installed) as `npm test`'s pretest step did; the suites and the processes they launch use these.
  process.env.TEMPORAL_CLI_PATH = ensureTemporalCli();
  process.env.FAKE_GCS_SERVER_PATH = ensureFakeGcs();
  const server = await startTemporalDevServer({
    cliPath: process.env.TEMPORAL_CLI_PATH,
    port: await freePort(),
    uiPort: null,
    dbFile: null,
    namespace: 'default',
  });
  globalThis.__TEMPORAL_DEV_SERVER__ = server;
  process.env.TEST_TEMPORAL_ADDRESS = server.address;

  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
  });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'batch-bundle-'));
  const codePath = path.join(dir, 'workflow-bundle.js');
  writeFileSync(codePath, bundle.code);
  process.env.TEST_WORKFLOW_BUNDLE = codePath;
  process.env.TEST_DASHBOARD_DIR = await buildDashboard(path.join(dir, 'dashboard'));
}
