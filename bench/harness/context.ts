import type { BenchContext } from '../scenario';
import { runBatch } from './batches';
import type { BenchOptions } from './options';
import { table } from './report';
import { startStack, startUpstreamOnly } from './stack';

/** The context every scenario runs with. */
export function createContext(options: BenchOptions): BenchContext {
  return {
    options,
    startStack: (workerCount, env, upstreamArgs) => startStack(options, workerCount, env, upstreamArgs),
    startUpstreamOnly,
    runBatch: (client, fileId, onPoll) => runBatch(client, fileId, options.pollMs, onPoll),
    report: table,
  };
}
