import { mkdirSync } from 'node:fs';
import { startApiServer } from '../api/server';
import { loadConfig } from '../config';
import { createLogger } from '../telemetry/logger';
import { createRegistry } from '../telemetry/metrics';
import { installTemporalRuntime, startWorker } from '../worker/worker';
import { startTemporalDevServer } from './temporal-dev-server';

/**
 * `npm start`: the whole stack in one process — an embedded Temporal dev server (unless TEMPORAL_ADDRESS
 * is set), a worker and the API. Resolves to the function that stops all of it, API first.
 */
export async function main(env: Record<string, string | undefined>): Promise<() => Promise<void>> {
  const config = loadConfig(env, 'standalone');
  const logger = createLogger({ level: config.logLevel, service: 'batch-api' });
  installTemporalRuntime(logger, config.logLevel);
  // One registry for the API and the worker: the API's /metrics shows both.
  const registry = createRegistry();
  mkdirSync(config.dataDir, { recursive: true });

  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => console.error(err));
  };
  try {
    let address = config.temporal.address;
    if (address === null) {
      const { devServer } = config.temporal;
      console.log(`Starting the Temporal dev server (data in ${devServer.dbFile})…`);
      const server = await startTemporalDevServer({
        cliPath: devServer.cliPath,
        port: devServer.port,
        uiPort: devServer.uiPort,
        dbFile: devServer.dbFile,
        namespace: config.temporal.namespace,
      });
      stops.push(() => server.stop());
      address = server.address;
      console.log(`Temporal Web UI:  http://localhost:${devServer.uiPort}`);
    }
    const worker = await startWorker(config, { temporalAddress: address, logger, registry });
    stops.push(() => worker.stop());
    worker.done.catch((err: unknown) => logger.error({ err: String(err) }, 'worker stopped'));
    const api = await startApiServer(config, address, { logger, registry });
    stops.push(() => api.stop());
    console.log(`OpenAI-compatible Batch API: ${api.url}/v1`);
    console.log(`Dashboard:        ${api.url}/`);
    console.log(`Temporal:         ${address} (namespace ${config.temporal.namespace})`);
    if (config.api.apiKeys === null) {
      console.warn('Authentication is off: every request acts as one tenant. Set API_KEYS to require keys.');
    }
    console.log('Press Ctrl-C to stop.');
  } catch (err) {
    await stopAll();
    throw err;
  }
  return stopAll;
}
