import * as path from 'node:path';
import OpenAI from 'openai';
import type { BenchContext, Scenario } from '../scenario';
import { uploadFile } from '../harness/batches';
import type { BatchRun } from '../harness/batches';
import { cpuDuring, measured, threadCpuDuring } from '../harness/cpu';
import type { CpuSeconds } from '../harness/cpu';
import { activitySpans, historyOf } from '../harness/history';
import { smallLine, writeInput } from '../harness/inputs';
import { plainRun } from '../harness/plain-client';
import { mb, median, seconds, sum } from '../harness/report';
import type { Row } from '../harness/report';
import type { Stack } from '../harness/stack';

/** The runs of both sides, in order, with the CPU of every process during each. */
interface Runs {
  baselines: number[];
  batches: number[];
  cpuPlain: CpuSeconds[];
  cpuBatch: CpuSeconds[];
  last: BatchRun | undefined;
  workerThreads: [string, number][];
}

export const throughput: Scenario = {
  name: 'throughput',
  description:
    'A BENCH_REQUESTS-line batch against a zero-latency upstream with UPSTREAM_MAX_CONCURRENCY=64, from create ' +
    'to completed, against a plain client with 64 requests in flight sending the same lines to the same ' +
    'upstream and writing the same JSONL; CPU of every process, history length, timeline of the last batch.',
  async run(ctx) {
    const { requests, concurrency } = ctx.options;
    const stack = await ctx.startStack(1);
    try {
      const input = await writeInput(stack.dataDir, 'throughput.jsonl', requests, smallLine);
      const client = new OpenAI({ baseURL: stack.apiUrl, apiKey: 'bench', maxRetries: 0 });
      const file = await uploadFile(client, input.file);
      // CPU by process during each run: the machine's two cores are shared by all of them.
      const pids = {
        upstream: stack.upstream.child.pid,
        'Temporal server': stack.temporal.pid,
        API: stack.api.child.pid,
        worker: stack.workers[0].child.pid,
      };
      const runs = await alternate(ctx, stack, pids, () => ctx.runBatch(client, file.id), input.file);
      const history = await historyOf(stack.temporal.address, runs.last!.batch.id);
      ctx.report(
        `throughput: ${requests} requests (${mb(input.bytes)}), ${concurrency} in flight, upstream latency 0 ms`,
        [
          ...speedRows(requests, runs),
          ['create → in_progress (last run)', seconds(runs.last!.inProgressMs)],
          ['Temporal history events', String(history.events?.length ?? 0)],
          ['timeline from the workflow start (last run)', timeline(activitySpans(history))],
          ['peak RSS: API / worker', `${await stack.api.peakRssMiB()} / ${await stack.workers[0].peakRssMiB()} MiB`],
          ...cpuRows(runs, ['bench (client)', ...Object.keys(pids)]),
          ['worker CPU by thread (last run)', runs.workerThreads.map(([n, s]) => `${n} ${s.toFixed(2)} s`).join(', ')],
        ],
      );
    } finally {
      await stack.stop();
    }
  },
};

/** BENCH_RUNS runs of the plain client and of a batch, alternating; throws if a batch does not complete. */
async function alternate(
  ctx: BenchContext,
  stack: Stack,
  pids: Record<string, number | undefined> & { worker: number | undefined },
  runBatch: () => Promise<BatchRun>,
  inputFile: string,
): Promise<Runs> {
  const { requests, runs: count, concurrency } = ctx.options;
  const runs: Runs = { baselines: [], batches: [], cpuPlain: [], cpuBatch: [], last: undefined, workerThreads: [] };
  const baselineFile = path.join(stack.dataDir, 'baseline.jsonl');
  for (let run = 0; run < count; run++) {
    const plain = await cpuDuring(pids, () =>
      measured(() => plainRun(stack.upstreamUrl, inputFile, baselineFile, concurrency)),
    );
    runs.cpuPlain.push(plain.cpu);
    runs.baselines.push(plain.result.wallMs);
    const { result: batch, threads } = await threadCpuDuring(pids.worker, () => cpuDuring(pids, runBatch));
    runs.cpuBatch.push(batch.cpu);
    runs.last = batch.result;
    runs.workerThreads = threads;
    const { status, request_counts: counts } = batch.result.batch;
    if (status !== 'completed' || counts?.completed !== requests) {
      throw new Error(`The batch ended ${status} with ${JSON.stringify(counts)}`);
    }
    runs.batches.push(batch.result.totalMs);
  }
  return runs;
}

function speedRows(requests: number, runs: Runs): Row[] {
  const baselineMs = median(runs.baselines);
  const totalMs = median(runs.batches);
  const rate = (ms: number) => `${seconds(ms)} (${Math.round(requests / (ms / 1000))} req/s)`;
  return [
    ['plain concurrent client (median)', rate(baselineMs)],
    ['batch, create → completed (median)', rate(totalMs)],
    ['ratio batch / plain', `${(totalMs / baselineMs).toFixed(2)}×`],
    ['runs (plain / batch)', runs.baselines.map((b, i) => `${seconds(b)} / ${seconds(runs.batches[i])}`).join(', ')],
  ];
}

function cpuRows({ cpuPlain, cpuBatch }: Runs, names: string[]): Row[] {
  const both = (of: (c: CpuSeconds) => number) =>
    `${median(cpuPlain.map(of)).toFixed(2)} s / ${median(cpuBatch.map(of)).toFixed(2)} s`;
  return [
    ...names.map((name): Row => [`CPU of ${name} (median): plain / batch`, both((c) => c[name])]),
    ['CPU of all (median): plain / batch', both(sum)],
  ];
}

function timeline(spans: Record<string, [number, number]>): string {
  return Object.entries(spans)
    .map(([type, [from, to]]) => (from === to ? `${type} ${seconds(to)}` : `${type} ${seconds(from)}–${seconds(to)}`))
    .join(', ');
}
