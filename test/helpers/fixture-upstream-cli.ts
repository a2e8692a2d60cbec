/**
 * `npm run fixture-upstream`: the test fixture upstream on its own (default port 8080), for trying the
 * stack without a model server. Point the stack at it with UPSTREAM_BASE_URL=http://127.0.0.1:8080/v1.
 */
import { startFixtureUpstream } from './fixture-upstream';

async function main() {
  const port = Number(process.env.FIXTURE_PORT ?? 8080);
  const latencyMs = Number(process.env.FIXTURE_LATENCY_MS ?? 0);
  const upstream = await startFixtureUpstream({ latencyMs }, port);
  console.log(`Fixture upstream (echo model) at ${upstream.baseUrl}`);
  const stop = () => void upstream.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

void main();
