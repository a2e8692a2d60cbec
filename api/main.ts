import { loadConfig, unreadVariables } from '../config';
import { createLogger } from '../telemetry/logger';
import { createRegistry } from '../telemetry/metrics';
import { startApiServer } from './server';

/** `npm run start:api`: the API process alone, against `TEMPORAL_ADDRESS`. Resolves to its stop function. */
export async function main(env: Record<string, string | undefined>): Promise<() => Promise<void>> {
  const config = loadConfig(env, 'api');
  const logger = createLogger({ level: config.logLevel, service: 'api' });
  const unread = unreadVariables(env, 'api');
  if (unread.length > 0) {
    logger.warn(
      { variables: unread },
      `Set but not read by the API process (they do nothing here): ${unread.join(', ')}`,
    );
  }
  const api = await startApiServer(config, config.temporal.address as string, { logger, registry: createRegistry() });
  logger.info(
    { url: `${api.url}/v1`, dashboard: `${api.url}/`, temporal: config.temporal.address },
    `API listening on ${api.url}/v1 (dashboard at ${api.url}/)`,
  );
  if (config.api.apiKeys === null)
    logger.warn('Authentication is off (AUTH_DISABLED=true): every request acts as one tenant.');
  return () => api.stop();
}
