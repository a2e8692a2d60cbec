/** What `npm run bench` reads from its environment, parsed once. */
export interface BenchOptions {
  /** BENCH_SCENARIOS: the scenarios to run, in this order (default: all of them). */
  scenarios: string[];
  /** BENCH_REQUESTS: lines of the throughput, executor and workers batches (default 50,000). */
  requests: number;
  /** BENCH_RUNS: runs of a figure and of its baseline, alternating; medians are compared (default 3). */
  runs: number;
  /** Requests in flight, of the plain client and of the upstream (UPSTREAM_MAX_CONCURRENCY); not a knob. */
  concurrency: number;
  /** BENCH_POLL_MS: how often a batch is polled (default 100). */
  pollMs: number;
  /** BENCH_WINDOW: chunks at a time in the executor scenario (default 8, as BATCH_CHUNK_WINDOW). */
  window: number;
  /** BENCH_ENV: JSON of extra environment for the API and the workers, to try settings. */
  extraEnv: Record<string, string>;
  /** BENCH_CPU_PROFILE: a folder where each worker process writes a V8 CPU profile when it stops. */
  cpuProfileDir: string | undefined;
  /** TEMPORAL_CLI_PATH: the `temporal` binary of the dev server (default: found on PATH). */
  temporalCliPath: string | null;
}

/** Reads the options from `env`; `allScenarios` is the default of BENCH_SCENARIOS. Throws if BENCH_ENV is not JSON. */
export function readOptions(env: NodeJS.ProcessEnv, allScenarios: string[]): BenchOptions {
  return {
    scenarios: (env.BENCH_SCENARIOS ?? allScenarios.join(',')).split(','),
    requests: Number(env.BENCH_REQUESTS ?? 50_000),
    runs: Number(env.BENCH_RUNS ?? 3),
    concurrency: 64,
    pollMs: Number(env.BENCH_POLL_MS ?? 100),
    window: Number(env.BENCH_WINDOW ?? 8),
    extraEnv: JSON.parse(env.BENCH_ENV ?? '{}') as Record<string, string>,
    cpuProfileDir: env.BENCH_CPU_PROFILE || undefined,
    temporalCliPath: env.TEMPORAL_CLI_PATH ?? null,
  };
}
