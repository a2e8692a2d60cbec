import { TestWorkflowEnvironment } from '@temporalio/testing';
import { findTemporalCli } from '../../standalone/temporal-dev-server';
import { BATCH_SEARCH_ATTRIBUTES } from '../../workflows/definitions';
import { quietTemporalRuntime } from './runtime';

/**
 * A Temporal dev server of this test file's own, started from the `temporal` CLI already on this machine
 * (`@temporalio/testing` cannot download one here), with the Batch* search attributes registered as
 * `npm start` registers them. In memory: it is gone after `teardown()`.
 */
export async function startLocalTemporal(): Promise<TestWorkflowEnvironment> {
  quietTemporalRuntime();
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: findTemporalCli(process.env.TEMPORAL_CLI_PATH ?? null) },
      searchAttributes: BATCH_SEARCH_ATTRIBUTES,
      log: { format: 'pretty', level: 'error' },
    },
  });
}
