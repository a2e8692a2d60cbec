import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTemporalDevServer } from '../../standalone/temporal-dev-server';
import type { RunningDevServer } from '../../standalone/temporal-dev-server';
import { freePort } from '../../test/helpers/ports';
import type { BenchOptions } from './options';
import { startProcess, startUpstream } from './processes';
import type { Proc } from './processes';

/** Every part of the service as its own process, as in production, on a data folder of its own. */
export interface Stack {
  temporal: RunningDevServer;
  upstreamUrl: string;
  dataDir: string;
  apiUrl: string;
  api: Proc;
  workers: Proc[];
  upstream: Proc;
  stop(): Promise<void>;
}

/** The fixture upstream alone, and a data folder. */
export interface UpstreamOnly {
  dataDir: string;
  upstreamUrl: string;
  stop(): Promise<void>;
}

type StackOptions = Pick<BenchOptions, 'concurrency' | 'extraEnv' | 'cpuProfileDir' | 'temporalCliPath'>;

/**
 * Starts an in-memory Temporal dev server, the fixture upstream (with `upstreamArgs`, e.g. `--slots 24`),
 * `workerCount` workers and the API (`scripts/launch.js`, as `start:worker` and `start:api`); `env` goes on
 * top of BENCH_ENV for the API and workers.
 */
export async function startStack(
  options: StackOptions,
  workerCount: number,
  env: Record<string, string> = {},
  upstreamArgs: string[] = [],
): Promise<Stack> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'batch-bench-'));
  const temporal = await startTemporalDevServer({
    cliPath: options.temporalCliPath,
    port: await freePort(),
    uiPort: null,
    dbFile: null,
    namespace: 'default',
  });
  const { upstream, upstreamUrl } = await startUpstream(upstreamArgs);
  const apiPort = await freePort();
  const origin = new URL(upstreamUrl).origin;
  const common = {
    DATA_DIR: dataDir,
    TEMPORAL_ADDRESS: temporal.address,
    UPSTREAM_BASE_URL: upstreamUrl,
    UPSTREAM_MAX_CONCURRENCY: String(options.concurrency),
    // `{upstreamOrigin}` in a value is the fixture's http://host:port (its port is picked here).
    ...Object.fromEntries(
      Object.entries({ ...options.extraEnv, ...env }).map(([k, v]) => [k, v.replaceAll('{upstreamOrigin}', origin)]),
    ),
  };
  const workers = await startWorkers(workerCount, common, options.cpuProfileDir);
  const api = await startProcess(
    ['scripts/launch.js', 'api'],
    { ...common, PORT: String(apiPort), AUTH_DISABLED: 'true' },
    /API listening/,
  );
  return {
    temporal,
    upstreamUrl,
    dataDir,
    apiUrl: `http://127.0.0.1:${apiPort}/v1`,
    api,
    workers,
    upstream,
    async stop() {
      await api.stop();
      await Promise.all(workers.map((w) => w.stop()));
      await upstream.stop();
      await temporal.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Worker processes one after another, each with a metrics port of its own. */
async function startWorkers(count: number, env: Record<string, string>, cpuProfileDir: string | undefined) {
  const profile = cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`] : [];
  const workers: Proc[] = [];
  for (let i = 0; i < count; i++) {
    const metricsPort = String(await freePort());
    workers.push(
      await startProcess(
        [...profile, 'scripts/launch.js', 'worker'],
        { ...env, WORKER_METRICS_PORT: metricsPort },
        /Worker polling/,
      ),
    );
  }
  return workers;
}

/** Starts the fixture upstream alone, for scenarios that run our code in this process. */
export async function startUpstreamOnly(): Promise<UpstreamOnly> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'batch-bench-'));
  const { upstream, upstreamUrl } = await startUpstream();
  return {
    dataDir,
    upstreamUrl,
    async stop() {
      await upstream.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
