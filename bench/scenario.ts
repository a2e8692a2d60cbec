import type OpenAI from 'openai';
import type { BatchRun, OnPoll } from './harness/batches';
import type { BenchOptions } from './harness/options';
import type { Row } from './harness/report';
import type { Stack, UpstreamOnly } from './harness/stack';

/** One part of `npm run bench`: a file in `bench/scenarios/`, listed in its `index.ts`. */
export interface Scenario {
  /** The name BENCH_SCENARIOS selects it by. */
  readonly name: string;
  /** What it measures, and against which baseline. */
  readonly description: string;
  /** Starts what it needs, measures, prints its figures with `ctx.report`, and stops what it started. */
  run(ctx: BenchContext): Promise<void>;
}

/** What the harness gives every scenario: the options, and the helpers that depend on them. */
export interface BenchContext {
  readonly options: BenchOptions;
  /**
   * Starts a Temporal dev server, the fixture upstream, `workerCount` workers and the API, each a process of
   * its own; `env` goes on top of BENCH_ENV for the API and the workers (`{upstreamOrigin}` in a value is the
   * fixture's `http://host:port`); `upstreamArgs` are the fixture's flags (`--slots 24 --service-ms 200`).
   */
  startStack(workerCount: number, env?: Record<string, string>, upstreamArgs?: string[]): Promise<Stack>;
  /** Starts the fixture upstream alone, and a data folder, for code run in this process. */
  startUpstreamOnly(): Promise<UpstreamOnly>;
  /** Creates a chat batch and polls it (every BENCH_POLL_MS) to the end. */
  runBatch(client: OpenAI, fileId: string, onPoll?: OnPoll): Promise<BatchRun>;
  /** Prints a titled table of figures. */
  report(title: string, rows: Row[]): void;
}
