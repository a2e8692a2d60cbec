/**
 * Pins durability by killing real processes mid-batch: after `kill -9` of the worker a new worker finishes
 * the batch, and after a restart of the Temporal server (same SQLite file) and of the API the batch
 * completes; in both cases every custom_id is in the output or error file exactly once, and only a few
 * percent of the requests reach the upstream twice.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import OpenAI from 'openai';
import { startApiServer } from '../../api/server';
import type { RunningApi } from '../../api/server';
import { loadConfig } from '../../config';
import { startTemporalDevServer } from '../../standalone/temporal-dev-server';
import type { RunningDevServer } from '../../standalone/temporal-dev-server';
import { startWorker } from '../../worker/worker';
import type { RunningWorker } from '../../worker/worker';
import { startFixtureUpstream } from '../helpers/fixture-upstream';
import type { FixtureUpstream } from '../helpers/fixture-upstream';
import { freePort } from '../helpers/ports';
import { launch } from '../helpers/processes';
import type { LaunchedProcess } from '../helpers/processes';
import { quietTemporalRuntime } from '../helpers/runtime';
import { downloadLines, requestLine, testTelemetry, testTemporal, waitForBatch, createBatch } from '../helpers/stack';

jest.setTimeout(180_000);

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Every input custom_id exactly once across the two files; returns the share of requests sent twice. */
async function checkExactlyOnce(client: OpenAI, batch: OpenAI.Batches.Batch, ids: string[], upstream: FixtureUpstream) {
  const output = batch.output_file_id ? await downloadLines(client, batch.output_file_id) : [];
  const errors = batch.error_file_id ? await downloadLines(client, batch.error_file_id) : [];
  expect([...output, ...errors].map((l) => l.custom_id).sort()).toEqual([...ids].sort());
  expect(batch.request_counts).toEqual({ total: ids.length, completed: output.length, failed: errors.length });
  const repeats = [...upstream.seen.values()].reduce((n, count) => n + count - 1, 0);
  return repeats / ids.length;
}

describe('kill -9 of the worker', () => {
  let upstream: FixtureUpstream;
  let dataDir: string;
  let api: RunningApi;
  const workers: LaunchedProcess[] = [];
  let env: Record<string, string>;
  beforeAll(async () => {
    quietTemporalRuntime();
    upstream = await startFixtureUpstream({ latencyMs: 20 });
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'crash-worker-'));
    env = {
      DATA_DIR: dataDir,
      TEMPORAL_ADDRESS: testTemporal().address,
      TEMPORAL_TASK_QUEUE: `crash-${randomBytes(4).toString('hex')}`,
      UPSTREAM_BASE_URL: upstream.baseUrl,
      UPSTREAM_MAX_CONCURRENCY: '8',
      BATCH_CHUNK_HEARTBEAT_TIMEOUT_SECONDS: '3',
      PORT: '0',
    };
    api = await startApiServer(loadConfig(env, 'standalone'), testTemporal().address, testTelemetry());
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await api.stop();
    await upstream.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('lets a new worker finish the batch, every custom_id exactly once', async () => {
    const first = launch('worker', { ...env, WORKER_METRICS_PORT: String(await freePort()) });
    workers.push(first);
    await first.waitFor(/Worker polling/);
    const client = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: 'unused' });
    const lines = Array.from({ length: 3000 }, (_, i) => requestLine(`k-${i}`, '/v1/chat/completions'));
    const created = await createBatch(client, lines);

    await until(() => upstream.requestCount >= 1000);
    await first.kill();
    const sentBeforeKill = upstream.requestCount;
    expect(sentBeforeKill).toBeLessThan(3000);

    const secondMetrics = await freePort();
    const second = launch('worker', { ...env, WORKER_METRICS_PORT: String(secondMetrics) });
    workers.push(second);
    const { batch } = await waitForBatch(client, created.id, { timeoutMs: 150_000 });
    expect(batch.status).toBe('completed');
    const repeated = await checkExactlyOnce(
      client,
      batch,
      lines.map((l) => l.custom_id as string),
      upstream,
    );
    console.log(`kill -9 at ${sentBeforeKill} of 3000 requests sent: ${(repeated * 100).toFixed(1)}% sent twice`);
    expect(repeated).toBeLessThan(0.1);

    // The new worker counted the chunks it took over from their watermarks.
    const metrics = await (await fetch(`http://localhost:${secondMetrics}/metrics`)).text();
    const retries = Number(/^batch_chunk_retries_total (\d+)$/m.exec(metrics)?.[1]);
    expect(retries).toBeGreaterThanOrEqual(1);
  });
});

describe('a restart of Temporal and of the API', () => {
  let upstream: FixtureUpstream;
  let dataDir: string;
  let temporal: RunningDevServer;
  let worker: RunningWorker;
  let api: RunningApi | undefined;
  beforeAll(async () => {
    quietTemporalRuntime();
    upstream = await startFixtureUpstream({ latencyMs: 20 });
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'crash-temporal-'));
  });
  afterAll(async () => {
    await api?.stop();
    await worker?.stop();
    await temporal?.stop();
    await upstream.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('does not lose the batch', async () => {
    const telemetry = testTelemetry();
    const temporalPort = await freePort();
    const devServer = {
      cliPath: process.env.TEMPORAL_CLI_PATH ?? null,
      port: temporalPort,
      uiPort: null,
      dbFile: path.join(dataDir, 'temporal.db'),
      namespace: 'default',
    };
    temporal = await startTemporalDevServer(devServer);
    const config = loadConfig(
      {
        DATA_DIR: dataDir,
        TEMPORAL_ADDRESS: temporal.address,
        UPSTREAM_BASE_URL: upstream.baseUrl,
        UPSTREAM_MAX_CONCURRENCY: '8',
        BATCH_CHUNK_HEARTBEAT_TIMEOUT_SECONDS: '5',
        PORT: String(await freePort()),
      },
      'standalone',
    );
    worker = await startWorker(config, {
      temporalAddress: temporal.address,
      workflowBundle: { codePath: testTemporal().bundlePath },
      logger: telemetry.logger,
      registry: telemetry.registry,
    });
    api = await startApiServer(config, temporal.address, telemetry);
    const client = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: 'unused', maxRetries: 5 });
    const lines = Array.from({ length: 2000 }, (_, i) => requestLine(`t-${i}`, '/v1/chat/completions'));
    const created = await createBatch(client, lines);

    await until(() => upstream.requestCount >= 500);
    await api.stop();
    api = undefined;
    await temporal.stop();
    await new Promise((r) => setTimeout(r, 2000));
    temporal = await startTemporalDevServer(devServer);
    // A new API process: a registry of its own.
    api = await startApiServer(config, temporal.address, testTelemetry());

    const { batch } = await waitForBatch(client, created.id, { timeoutMs: 150_000 });
    expect(batch.status).toBe('completed');
    const repeated = await checkExactlyOnce(
      client,
      batch,
      lines.map((l) => l.custom_id as string),
      upstream,
    );
    console.log(`Temporal and API restarted mid-batch: ${(repeated * 100).toFixed(1)}% sent twice`);
    expect(repeated).toBeLessThan(0.1);
  });
});
