import { loadConfig } from '../config';
import { startApiServer } from './server';

/** `npm run start:api`: the API process alone, against `TEMPORAL_ADDRESS`. Resolves to its stop function. */
export async function main(env: Record<string, string | undefined>): Promise<() => Promise<void>> {
  const config = loadConfig(env, 'api');
  const api = await startApiServer(config, config.temporal.address as string);
  console.log(`API listening on ${api.url}/v1 (Temporal at ${config.temporal.address})`);
  if (config.api.apiKeys === null) console.warn('Warning: authentication is off (AUTH_DISABLED=true).');
  return () => api.stop();
}
