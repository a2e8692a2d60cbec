/**
 * `npm run fixture-upstream`: the test fixture upstream on its own (default port 8080), for trying the
 * stack without a model server, and for the bench. Point the stack at it with
 * UPSTREAM_BASE_URL=http://127.0.0.1:8080/v1.
 *
 *   npm run fixture-upstream -- --slots 4 --service-ms 200 [--port 8080] [--latency-ms 0] [--seed 1] [--metrics]
 *
 * Each flag has an environment twin: FIXTURE_PORT, FIXTURE_LATENCY_MS, FIXTURE_SLOTS, FIXTURE_SERVICE_MS,
 * FIXTURE_SEED (a flag wins). `GET /fixture/stats` answers the stats while it runs; they are printed as
 * JSON on exit (SIGINT, SIGTERM). `--metrics` serves `GET /metrics` as vLLM does (its waiting and running
 * requests).
 */
import { parseArgs } from 'node:util';
import { startFixtureUpstream } from './fixture-upstream';

function number(name: string, flag: string | undefined, env: string | undefined): number | undefined {
  const raw = flag ?? env;
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a number >= 0, got ${raw}`);
  return value;
}

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'latency-ms': { type: 'string' },
      slots: { type: 'string' },
      'service-ms': { type: 'string' },
      seed: { type: 'string' },
      metrics: { type: 'boolean' },
    },
  });
  const env = process.env;
  const port = number('port', values.port, env.FIXTURE_PORT) ?? 8080;
  const upstream = await startFixtureUpstream(
    {
      latencyMs: number('latency-ms', values['latency-ms'], env.FIXTURE_LATENCY_MS) ?? 0,
      slots: number('slots', values.slots, env.FIXTURE_SLOTS),
      serviceMs: number('service-ms', values['service-ms'], env.FIXTURE_SERVICE_MS),
      seed: number('seed', values.seed, env.FIXTURE_SEED),
      metrics: values.metrics ?? false,
    },
    port,
  );
  console.log(`Fixture upstream (echo model) at ${upstream.baseUrl}`);
  const stop = () => {
    console.log(`Fixture upstream stats: ${JSON.stringify(upstream.stats())}`);
    void upstream.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
