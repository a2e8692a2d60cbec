import type OpenAI from 'openai';
import type { BenchContext } from '../scenario';
import { uploadFile } from '../harness/batches';
import { smallLine, writeInput } from '../harness/inputs';
import { seconds } from '../harness/report';
import type { Row } from '../harness/report';
import type { Stack } from '../harness/stack';

/**
 * What the parts of the `capacity` scenario share: the server's capacity, batches started and waited for by
 * hand (a window other than 24h, a cancel), the ideal time of a batch, targets, and the limit's moves as the
 * workers logged them.
 */

/** The fixture upstream of the scenario: N slots of T ms (±10%), the rest queued: N/T = 120 requests a second. */
export const SLOTS = 24;
export const SERVICE_MS = 200;
export const RATE_PER_S = (SLOTS / SERVICE_MS) * 1000;
export const UPSTREAM_ARGS = ['--slots', String(SLOTS), '--service-ms', String(SERVICE_MS)];

const TERMINAL = ['completed', 'failed', 'expired', 'cancelled'];

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
export const ms = (x: number) => `${Math.round(x)} ms`;
/** A figure beside its target, and whether it meets it. */
export const against = (figure: string, target: string, met: boolean) =>
  `${figure}   (target ${target}: ${met ? 'met' : 'MISSED'})`;

/** The ideal time of a batch of `lines` at `rate` requests a second: the fixed overhead plus the lines' time. */
export const idealMs = (overheadMs: number, lines: number, ratePerS: number) => overheadMs + (lines / ratePerS) * 1000;

/** Uploads a file of `lines` small chat requests as `client`'s tenant. */
export async function uploadLines(stack: Stack, client: OpenAI, name: string, lines: number): Promise<string> {
  const input = await writeInput(stack.dataDir, name, lines, smallLine);
  return (await uploadFile(client, input.file)).id;
}

/** Creates a chat batch with the given completion window (the API may refuse a window it does not know). */
export function createBatch(client: OpenAI, fileId: string, window = '24h'): Promise<OpenAI.Batches.Batch> {
  return client.batches.create({
    input_file_id: fileId,
    endpoint: '/v1/chat/completions',
    // The SDK types only '24h'; others are what this scenario asks the API about.
    completion_window: window as '24h',
  });
}

/** Polls a batch every `pollMs` until `done` says so (default: a terminal status). */
export async function waitFor(
  client: OpenAI,
  id: string,
  pollMs: number,
  done = (b: OpenAI.Batches.Batch) => TERMINAL.includes(b.status),
): Promise<OpenAI.Batches.Batch> {
  for (;;) {
    const batch = await client.batches.retrieve(id);
    if (done(batch)) return batch;
    await sleep(pollMs);
  }
}

/** Cancels a batch that is in the way of the next part and waits for it to end; returns it as it was before. */
export async function cancelAndWait(client: OpenAI, id: string, pollMs: number): Promise<OpenAI.Batches.Batch> {
  const before = await client.batches.retrieve(id);
  await client.batches.cancel(id);
  await waitFor(client, id, pollMs);
  return before;
}

/** The fixed overhead of the stack: the median time of three one-line batches, create → completed. */
export async function measureOverhead(ctx: BenchContext, stack: Stack, client: OpenAI): Promise<number> {
  const fileId = await uploadLines(stack, client, 'one-line.jsonl', 1);
  const times: number[] = [];
  for (let i = 0; i < 3; i++) times.push((await ctx.runBatch(client, fileId)).totalMs);
  return times.sort((a, b) => a - b)[1];
}

/** Done and total requests of a batch. */
export const progress = (b: OpenAI.Batches.Batch) =>
  `${(b.request_counts?.completed ?? 0) + (b.request_counts?.failed ?? 0)}/${b.request_counts?.total ?? 0}`;

/**
 * The moves of the adaptive limit that a worker logged since `since` (epoch ms): `+t s from→to (reason)`,
 * t from `since`. The log has a line per noticeable move, at most every 5 s.
 */
export function limitMoves(output: string, since: number): string {
  const moves: string[] = [];
  for (const line of output.split('\n')) {
    if (!line.includes('upstream concurrency limit')) continue;
    try {
      const entry = JSON.parse(line) as { time: string; limit: number; previous: number | null; reason: string };
      const at = Date.parse(entry.time);
      if (at < since) continue;
      moves.push(`+${seconds(at - since)} ${entry.previous ?? '·'}→${entry.limit} (${entry.reason})`);
    } catch {
      // Not a JSON log line.
    }
  }
  return moves.length > 0 ? moves.join(', ') : 'none logged';
}

/** A row of the limit's moves for each worker of the stack. */
export function limitRows(stack: Stack, since: number): Row[] {
  return stack.workers.map((w, i): Row => [`limit moves logged by worker ${i + 1}`, limitMoves(w.output(), since)]);
}
