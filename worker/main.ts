import { loadConfig, unreadVariables } from '../config';
import { createLogger } from '../telemetry/logger';
import { createRegistry } from '../telemetry/metrics';
import { installTemporalRuntime, startWorker } from './worker';

/** `npm run start:worker`: one worker process on `TEMPORAL_TASK_QUEUE`. Resolves to its stop function. */
export async function main(env: Record<string, string | undefined>): Promise<() => Promise<void>> {
  const config = loadConfig(env, 'worker');
  const logger = createLogger({ level: config.logLevel, service: 'worker' });
  const unread = unreadVariables(env, 'worker');
  if (unread.length > 0) {
    logger.warn(
      { variables: unread },
      `Set but not read by the worker process (they do nothing here): ${unread.join(', ')}`,
    );
  }
  installTemporalRuntime(logger, config.logLevel);
  const address = config.temporal.address as string;
  const worker = await startWorker(config, {
    temporalAddress: address,
    logger,
    registry: createRegistry(),
    serveMetrics: true,
  });
  logger.info(
    {
      task_queue: config.temporal.taskQueue,
      temporal: address,
      metrics: config.worker.metricsPort > 0 ? `http://localhost:${config.worker.metricsPort}/metrics` : null,
    },
    `Worker polling task queue '${config.temporal.taskQueue}' at ${address}`,
  );
  worker.done.catch((err: unknown) => {
    logger.error({ err: String(err) }, 'worker stopped');
    process.exitCode = 1;
  });
  return () => worker.stop();
}
