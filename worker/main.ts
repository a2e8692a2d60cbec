import { loadConfig } from '../config';
import { startWorker } from './worker';

/** `npm run start:worker`: one worker process on `TEMPORAL_TASK_QUEUE`. Resolves to its stop function. */
export async function main(env: Record<string, string | undefined>): Promise<() => Promise<void>> {
  const config = loadConfig(env, 'worker');
  const address = config.temporal.address as string;
  const worker = await startWorker(config, { temporalAddress: address });
  console.log(`Worker polling task queue '${config.temporal.taskQueue}' at ${address}`);
  worker.done.catch((err: unknown) => {
    console.error('Worker stopped:', err);
    process.exitCode = 1;
  });
  return () => worker.stop();
}
