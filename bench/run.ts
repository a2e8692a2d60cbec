/**
 * `npm run bench`: the figures of BENCHMARKS.md, each against a baseline measured in the same run.
 *
 * Every part runs as its own process, as in production: the Temporal dev server, the fixture upstream,
 * the API (`start:api`) and the worker(s) (`start:worker`); this process is only the client. The harness
 * (`harness/`) starts them, measures and prints; each scenario is a file of `scenarios/`, and BENCH_SCENARIOS
 * (comma-separated) picks them by name (default all). The other knobs are in `harness/options.ts`.
 */
import * as os from 'node:os';
import { createContext } from './harness/context';
import { readOptions } from './harness/options';
import { build } from './harness/processes';
import { scenarios } from './scenarios';

const options = readOptions(
  process.env,
  scenarios.map((s) => s.name),
);

async function main() {
  await build();
  console.log(`# npm run bench — ${new Date().toISOString()}, ${os.cpus().length} CPUs, Node ${process.version}`);
  const ctx = createContext(options);
  for (const name of options.scenarios) {
    const scenario = scenarios.find((s) => s.name === name);
    if (scenario === undefined) throw new Error(`Unknown scenario '${name}'`);
    await scenario.run(ctx);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
