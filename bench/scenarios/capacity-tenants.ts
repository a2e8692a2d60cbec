import type OpenAI from 'openai';
import type { BenchContext } from '../scenario';
import { seconds } from '../harness/report';
import type { Row } from '../harness/report';
import type { Stack } from '../harness/stack';
import {
  against,
  cancelAndWait,
  createBatch,
  idealMs,
  progress,
  RATE_PER_S,
  sleep,
  uploadLines,
  waitFor,
} from './capacity-parts';

/** The two parts of the `capacity` scenario about who gets the capacity: tenants, and deadlines. */

const BIG_LINES = 6_000;
const SMALL_LINES = 300;
/** How long the big batch runs alone before the others arrive: its limit has settled by then. */
const HEAD_START_MS = 3_000;

/** Starts a big batch as `client` and waits until it has run alone for a while. */
async function startBig(ctx: BenchContext, stack: Stack, client: OpenAI, window: string) {
  const fileId = await uploadLines(stack, client, `big-${window}.jsonl`, BIG_LINES);
  const big = await createBatch(client, fileId, window);
  await waitFor(client, big.id, ctx.options.pollMs, (b) => b.status !== 'validating');
  await sleep(HEAD_START_MS);
  return big;
}

/**
 * Four tenants (API keys): while the first one's 6,000-line batch runs, each of the three others creates a
 * 300-line batch. Each small batch should finish within 3× its ideal time at a quarter of the capacity.
 */
export async function tenants(ctx: BenchContext, stack: Stack, clients: OpenAI[], overheadMs: number): Promise<void> {
  const [first, ...others] = clients;
  const files = await Promise.all(others.map((c, i) => uploadLines(stack, c, `tenant-${i}.jsonl`, SMALL_LINES)));
  const big = await startBig(ctx, stack, first, '24h');
  const runs = await Promise.all(others.map((c, i) => ctx.runBatch(c, files[i])));
  const bigAtEnd = await cancelAndWait(first, big.id, ctx.options.pollMs);
  const ideal = idealMs(overheadMs, SMALL_LINES, RATE_PER_S / 4);
  const rows: Row[] = runs.map((r, i): Row => {
    if (r.batch.status !== 'completed') throw new Error(`A tenant's batch ended ${r.batch.status}`);
    return [
      `tenant ${i + 2}: ${SMALL_LINES} lines, create → completed`,
      against(
        `${seconds(r.totalMs)} (ideal at ¼ capacity ${seconds(ideal)}, ${(r.totalMs / ideal).toFixed(2)}×)`,
        `≤ 3× ideal = ${seconds(3 * ideal)}`,
        r.totalMs <= 3 * ideal,
      ),
    ];
  });
  rows.push([
    `tenant 1: ${BIG_LINES} lines`,
    `request_counts ${progress(bigAtEnd)} when the others were done (counted per finished 1,000-line chunk); cancelled then`,
  ]);
  ctx.report(`capacity: four tenants, ${SMALL_LINES}-line batches while a ${BIG_LINES}-line batch runs`, rows);
}

/**
 * A 1h batch created while a 24h batch runs should finish within 1.5× its ideal time at full capacity. Needs
 * BATCH_COMPLETION_WINDOWS=1h,24h (set on the stack): an API that refuses "1h" makes it not measurable yet.
 */
export async function deadlines(ctx: BenchContext, stack: Stack, client: OpenAI, overheadMs: number): Promise<void> {
  const title = `capacity: a ${SMALL_LINES}-line 1h batch created while a ${BIG_LINES}-line 24h batch runs`;
  const fileId = await uploadLines(stack, client, 'short.jsonl', SMALL_LINES);
  const long = await startBig(ctx, stack, client, '24h');
  const started = performance.now();
  let short: OpenAI.Batches.Batch;
  try {
    short = await createBatch(client, fileId, '1h');
  } catch (err) {
    await cancelAndWait(client, long.id, ctx.options.pollMs);
    const why = err instanceof Error ? err.message : String(err);
    ctx.report(title, [['1h batch', `not measurable yet: the API refused completion_window "1h" (${why})`]]);
    return;
  }
  const done = await waitFor(client, short.id, ctx.options.pollMs);
  const totalMs = performance.now() - started;
  const longAtEnd = await cancelAndWait(client, long.id, ctx.options.pollMs);
  const ideal = idealMs(overheadMs, SMALL_LINES, RATE_PER_S);
  ctx.report(title, [
    [
      `1h batch: ${SMALL_LINES} lines, create → ${done.status}`,
      against(
        `${seconds(totalMs)} (ideal at full capacity ${seconds(ideal)}, ${(totalMs / ideal).toFixed(2)}×)`,
        `≤ 1.5× ideal = ${seconds(1.5 * ideal)}`,
        done.status === 'completed' && totalMs <= 1.5 * ideal,
      ),
    ],
    ['24h batch', `request_counts ${progress(longAtEnd)} when the 1h batch was done; cancelled then`],
  ]);
}
