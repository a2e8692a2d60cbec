import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { WorkflowBundleOption } from '@temporalio/worker';
import { createActivities, UpstreamClient } from '../activities';
import type { Config } from '../config';
import { Catalog, createFileStore } from '../storage';
import { PREBUILT_BUNDLE_PATH } from './build-workflow-bundle';

export interface StartWorkerOptions {
  temporalAddress: string;
  /**
   * A workflow bundle; without one the worker loads the one `npm run build` wrote, or else bundles the
   * workflows from source at start.
   */
  workflowBundle?: WorkflowBundleOption;
  /** The name this worker gives itself in histories; Temporal's default is `pid@hostname`. */
  identity?: string;
}

export interface RunningWorker {
  /** Settles when the worker has stopped; rejects if it crashed. */
  readonly done: Promise<void>;
  /** Stops polling, lets running chunks flush (within the grace time), then closes connections. */
  stop(): Promise<void>;
}

/** How long a stopping worker waits for running activities, which flush their segments when cancelled. */
const SHUTDOWN_GRACE = '30s';

/** Connects to Temporal and runs a worker for the batch workflow and its activities. */
export async function startWorker(config: Config, options: StartWorkerOptions): Promise<RunningWorker> {
  const connection = await NativeConnection.connect({ address: options.temporalAddress });
  const store = createFileStore(config.storage);
  await store.check();
  const upstream = new UpstreamClient(config.upstream);
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...(options.identity !== undefined ? { identity: options.identity } : {}),
    ...workflowSource(options.workflowBundle),
    activities: createActivities({ catalog: new Catalog(store), upstream, webhook: config.webhook }),
    maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
    shutdownGraceTime: SHUTDOWN_GRACE,
    // Cancellation reaches an activity with a heartbeat response: heartbeat often so a cancel takes seconds.
    maxHeartbeatThrottleInterval: '2s',
    defaultHeartbeatThrottleInterval: '2s',
  });
  const done = worker.run().finally(async () => {
    await upstream.close();
    await connection.close();
  });
  return {
    done,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}

function workflowSource(bundle: WorkflowBundleOption | undefined) {
  if (bundle !== undefined) return { workflowBundle: bundle };
  if (existsSync(PREBUILT_BUNDLE_PATH)) return { workflowBundle: { codePath: PREBUILT_BUNDLE_PATH } };
  return { workflowsPath: require.resolve(path.join(__dirname, '..', 'workflows')) };
}
