/**
 * `npm run bench`: a batch through the whole stack against a plain concurrent client, in the same run.
 *
 * Both send the same lines to the same fixture upstream (zero latency) with the same concurrency, and both
 * write the results as JSONL. Printed: wall times, their ratio, throughput, the batch's Temporal history
 * length and peak memory. Environment knobs: BENCH_REQUESTS (default 5000), BENCH_CONCURRENCY (64).
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { once } from 'node:events';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import OpenAI, { toFile } from 'openai';
import { Agent, request } from 'undici';
import { startApiServer } from '../api/server';
import { loadConfig } from '../config';
import { startTemporalDevServer } from '../standalone/temporal-dev-server';
import { startWorker } from '../worker/worker';
import { startFixtureUpstream } from '../test/helpers/fixture-upstream';
import { freePort } from '../test/helpers/ports';
import { quietTemporalRuntime } from '../test/helpers/runtime';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);

let peakRss = 0;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);

function inputLines(): string[] {
  return Array.from({ length: REQUESTS }, (_, i) =>
    JSON.stringify({
      custom_id: `bench-${i}`,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'bench-model', messages: [{ role: 'user', content: `Say something about the number ${i}.` }] },
    }),
  );
}

/** The baseline: what a user would write without us — N requests, CONCURRENCY in flight, results to JSONL. */
async function plainClient(baseUrl: string, lines: string[], outFile: string): Promise<number> {
  const agent = new Agent({ connections: CONCURRENCY, pipelining: 1 });
  const out = createWriteStream(outFile);
  const started = performance.now();
  let next = 0;
  let draining: Promise<void> | null = null;
  const workerLoop = async () => {
    while (next < lines.length) {
      const line = JSON.parse(lines[next++]) as { custom_id: string; body: unknown };
      const res = await request(`${baseUrl}/chat/completions`, {
        dispatcher: agent,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(line.body),
      });
      const body = await res.body.text();
      const text = `{"custom_id":${JSON.stringify(line.custom_id)},"response":{"status_code":${res.statusCode},"body":${body}}}\n`;
      if (!out.write(text)) {
        draining ??= once(out, 'drain').then(() => {
          draining = null;
        });
        await draining;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, workerLoop));
  out.end();
  await once(out, 'finish');
  const elapsed = performance.now() - started;
  await agent.close();
  return elapsed;
}

async function main() {
  quietTemporalRuntime();
  const work = await mkdtemp(path.join(os.tmpdir(), 'batch-bench-'));
  const upstream = await startFixtureUpstream();
  const temporal = await startTemporalDevServer({
    cliPath: process.env.TEMPORAL_CLI_PATH ?? null,
    port: await freePort(),
    uiPort: null,
    dbFile: null,
    namespace: 'default',
  });
  const lines = inputLines();
  const inputBytes = Buffer.byteLength(lines.join('\n') + '\n');
  console.log(
    `Requests: ${REQUESTS} (${(inputBytes / 1e6).toFixed(1)} MB), concurrency ${CONCURRENCY}, upstream latency 0 ms`,
  );

  const baselineMs = await plainClient(upstream.baseUrl, lines, path.join(work, 'baseline.jsonl'));
  const baselineBytes = (await readFile(path.join(work, 'baseline.jsonl'))).length;

  const config = loadConfig(
    {
      DATA_DIR: work,
      PORT: '0',
      TEMPORAL_ADDRESS: temporal.address,
      UPSTREAM_BASE_URL: upstream.baseUrl,
      UPSTREAM_MAX_CONCURRENCY: String(CONCURRENCY),
    },
    'standalone',
  );
  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
  });
  const bundlePath = path.join(work, 'bundle.js');
  await writeFile(bundlePath, bundle.code);
  const worker = await startWorker(config, {
    temporalAddress: temporal.address,
    workflowBundle: { codePath: bundlePath },
  });
  const api = await startApiServer(config, temporal.address, () => undefined);
  const client = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: 'bench' });

  const uploadStarted = performance.now();
  const file = await client.files.create({
    file: await toFile(Buffer.from(lines.join('\n') + '\n'), 'bench.jsonl'),
    purpose: 'batch',
  });
  const uploadMs = performance.now() - uploadStarted;

  const started = performance.now();
  const created = await client.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
  });
  let batch = created;
  let inProgressMs: number | null = null;
  while (!['completed', 'failed', 'expired', 'cancelled'].includes(batch.status)) {
    await new Promise((r) => setTimeout(r, 20));
    batch = await client.batches.retrieve(created.id);
    if (inProgressMs === null && batch.status !== 'validating') inProgressMs = performance.now() - started;
  }
  const batchMs = performance.now() - started;
  if (batch.status !== 'completed' || batch.request_counts?.completed !== REQUESTS) {
    throw new Error(`The batch ended ${batch.status} with ${JSON.stringify(batch.request_counts)}`);
  }
  const outputBytes = (await client.files.retrieve(batch.output_file_id!)).bytes;

  const connection = await Connection.connect({ address: temporal.address });
  const history = await new Client({ connection }).workflow.getHandle(created.id).fetchHistory();
  await connection.close();

  const rows: [string, string][] = [
    [
      'plain concurrent client',
      `${(baselineMs / 1000).toFixed(2)} s (${Math.round(REQUESTS / (baselineMs / 1000))} req/s, ${(baselineBytes / 1e6).toFixed(1)} MB written)`,
    ],
    [
      'batch, create → completed',
      `${(batchMs / 1000).toFixed(2)} s (${Math.round(REQUESTS / (batchMs / 1000))} req/s, ${(outputBytes / 1e6).toFixed(1)} MB output file)`,
    ],
    ['ratio batch / plain', `${(batchMs / baselineMs).toFixed(2)}×`],
    ['upload', `${(uploadMs / 1000).toFixed(2)} s`],
    ['create → in_progress (validation)', `${((inProgressMs ?? batchMs) / 1000).toFixed(2)} s`],
    ['Temporal history events', String(history.events?.length ?? 0)],
    ['peak RSS of this process (API + worker + both clients)', `${Math.round(peakRss / 2 ** 20)} MiB`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);

  await api.stop();
  await worker.stop();
  await temporal.stop();
  await upstream.close();
  clearInterval(rssTimer);
  await rm(work, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
