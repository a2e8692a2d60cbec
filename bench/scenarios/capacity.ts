import OpenAI from 'openai';
import type { BenchContext, Scenario } from '../scenario';
import { fixtureStats, resetFixtureStats, serverSpan } from '../harness/fixture-stats';
import { historyOf } from '../harness/history';
import { percentile, startProbe } from '../harness/probe';
import type { ProbeSample } from '../harness/probe';
import { seconds } from '../harness/report';
import type { Row } from '../harness/report';
import type { Stack } from '../harness/stack';
import {
  against,
  idealMs,
  limitRows,
  measureOverhead,
  ms,
  pct,
  RATE_PER_S,
  SERVICE_MS,
  sleep,
  SLOTS,
  UPSTREAM_ARGS,
  uploadLines,
} from './capacity-parts';
import { deadlines, tenants } from './capacity-tenants';
import { activitiesByWorker } from './workers';

const BATCH_LINES = 4_000;
const KEYS = ['sk-bench-a', 'sk-bench-b', 'sk-bench-c', 'sk-bench-d'];

export const capacity: Scenario = {
  name: 'capacity',
  description:
    `The fixture upstream with a capacity (--slots ${SLOTS} --service-ms ${SERVICE_MS}: ${RATE_PER_S} requests a ` +
    'second, the rest queued, no 429s) and UPSTREAM_MAX_CONCURRENCY=256: how much of it a batch uses, what an ' +
    'interactive user sees meanwhile, two workers (on latency alone, then with the server metrics), four tenants, a 1h batch beside a 24h one; each figure beside ' +
    'its target. Ideal times are the fixed overhead of a one-line batch, measured in the same run, plus lines ÷ rate.',
  async run(ctx) {
    const one = await ctx.startStack(
      1,
      { UPSTREAM_MAX_CONCURRENCY: '256', API_KEYS: KEYS.join(','), BATCH_COMPLETION_WINDOWS: '1h,24h' },
      UPSTREAM_ARGS,
    );
    let overheadMs: number;
    try {
      const clients = KEYS.map((apiKey) => new OpenAI({ baseURL: one.apiUrl, apiKey, maxRetries: 0 }));
      overheadMs = await measureOverhead(ctx, one, clients[0]);
      ctx.report('capacity: the stack', [
        ['fixed overhead: a one-line batch, create → completed (median of 3)', seconds(overheadMs)],
      ]);
      await oneWorker(ctx, one, clients[0], overheadMs);
      await tenants(ctx, one, clients, overheadMs);
      await deadlines(ctx, one, clients[0], overheadMs);
    } finally {
      await one.stop();
    }
    for (const metrics of [false, true]) {
      const env = { UPSTREAM_MAX_CONCURRENCY: '256', BATCH_CHUNK_MIN_LINES: '250' };
      const two = await ctx.startStack(
        2,
        metrics ? { ...env, UPSTREAM_METRICS_URL: '{upstreamOrigin}/metrics' } : env,
        [...UPSTREAM_ARGS, '--metrics'],
      );
      try {
        await twoWorkers(ctx, two, overheadMs, metrics);
      } finally {
        await two.stop();
      }
    }
  },
};

/** A 4,000-line batch on one worker, with an interactive probe before (idle) and during it. */
async function oneWorker(ctx: BenchContext, stack: Stack, client: OpenAI, overheadMs: number): Promise<void> {
  const idleProbe = startProbe(stack.upstreamUrl);
  await sleep(5_000);
  const idle = (await idleProbe.stop()).map((s) => s.ms);
  const fileId = await uploadLines(stack, client, 'capacity.jsonl', BATCH_LINES);
  await resetFixtureStats(stack.upstreamUrl);
  const since = Date.now();
  const probe = startProbe(stack.upstreamUrl);
  const run = await ctx.runBatch(client, fileId);
  const samples = await probe.stop();
  if (run.batch.status !== 'completed') throw new Error(`The batch ended ${run.batch.status}`);
  const span = serverSpan(await fixtureStats(stack.upstreamUrl), SLOTS, SERVICE_MS);
  const loaded = within(samples, span.first, span.last);
  const idleMedian = percentile(idle, 50);
  const loadedMedian = percentile(loaded, 50);
  ctx.report(`capacity: one worker, a ${BATCH_LINES}-line batch, an interactive request every 250 ms`, [
    [
      'utilisation: requests the server finished ÷ (span × N/T)',
      against(pct(span.utilisation), '≥ 90%', span.utilisation >= 0.9),
    ],
    ['  of which the batch', `${pct(span.utilisationOfBatch)} (${span.finishedOfBatch} of ${span.finished})`],
    [
      'batch, create → completed',
      `${seconds(run.totalMs)} (ideal at full capacity ${seconds(idealMs(overheadMs, BATCH_LINES, RATE_PER_S))})`,
    ],
    ['interactive, idle: median / p95', `${ms(idleMedian)} / ${ms(percentile(idle, 95))} (${idle.length} requests)`],
    [
      'interactive, during the batch: median / p95',
      against(
        `${ms(loadedMedian)} / ${ms(percentile(loaded, 95))} (${loaded.length} requests), ${(loadedMedian / idleMedian).toFixed(2)}× idle`,
        `median ≤ 1.5× idle = ${ms(1.5 * idleMedian)}`,
        loadedMedian <= 1.5 * idleMedian,
      ),
    ],
    ['server: serving + queued during the batch, median / p95', `${span.depthP50} / ${span.depthP95}`],
    [
      `server: all ${SLOTS} slots busy, after the first arrival`,
      span.fullAfterMs === null ? 'never' : seconds(span.fullAfterMs),
    ],
    ...limitRows(stack, since),
  ]);
}

/**
 * Two worker processes share a 4,000-line batch (chunks of 250 lines, so both get some); with `metrics`, their
 * limits also read the server's count of waiting requests (UPSTREAM_METRICS_URL, the fixture's vLLM-style page).
 */
async function twoWorkers(ctx: BenchContext, stack: Stack, overheadMs: number, metrics: boolean): Promise<void> {
  const client = new OpenAI({ baseURL: stack.apiUrl, apiKey: 'bench', maxRetries: 0 });
  const fileId = await uploadLines(stack, client, 'two-workers.jsonl', BATCH_LINES);
  await resetFixtureStats(stack.upstreamUrl);
  const since = Date.now();
  const run = await ctx.runBatch(client, fileId);
  if (run.batch.status !== 'completed') throw new Error(`The batch ended ${run.batch.status}`);
  const span = serverSpan(await fixtureStats(stack.upstreamUrl), SLOTS, SERVICE_MS);
  const history = await historyOf(stack.temporal.address, run.batch.id);
  const chunks = [...activitiesByWorker(history).values()];
  const rows: Row[] = [
    [
      'server: serving + queued, p95 of the 20 ms samples',
      against(String(span.depthP95), `≤ 1.5 × ${SLOTS} = ${1.5 * SLOTS}`, span.depthP95 <= 1.5 * SLOTS),
    ],
    ['server: serving + queued, median', String(span.depthP50)],
    [
      'utilisation: requests the server finished ÷ (span × N/T)',
      against(pct(span.utilisation), '≥ 90%', span.utilisation >= 0.9),
    ],
    [
      'batch, create → completed',
      `${seconds(run.totalMs)} (ideal at full capacity ${seconds(idealMs(overheadMs, BATCH_LINES, RATE_PER_S))})`,
    ],
    ['activities started per worker', chunks.join(' / ')],
    ...limitRows(stack, since),
  ];
  const signals = metrics ? 'latency and the server metrics' : 'latency alone';
  ctx.report(
    `capacity: two worker processes, one ${BATCH_LINES}-line batch, each worker's limit on ${signals}, within its share of the budget across workers`,
    rows,
  );
}

/** Latencies of the probe requests sent and answered within [first, last]. */
function within(samples: ProbeSample[], first: number, last: number): number[] {
  return samples.filter((s) => s.sentAt >= first && s.sentAt + s.ms <= last).map((s) => s.ms);
}
