import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import OpenAI, { toFile } from 'openai';
import { startApiServer } from '../../api/server';
import type { RunningApi } from '../../api/server';
import { loadConfig } from '../../config';
import type { BatchEndpoint } from '../../common/batch';
import type { Config } from '../../config';
import { createLogger } from '../../telemetry/logger';
import type { Logger } from '../../telemetry/logger';
import { createRegistry } from '../../telemetry/metrics';
import type { Registry } from '../../telemetry/metrics';
import { startWorker } from '../../worker/worker';
import type { RunningWorker } from '../../worker/worker';
import { startFixtureUpstream } from './fixture-upstream';
import { quietTemporalRuntime } from './runtime';
import type { FixtureUpstream, FixtureUpstreamOptions } from './fixture-upstream';

export interface TestStack {
  client: OpenAI;
  upstream: FixtureUpstream;
  api: RunningApi;
  worker: RunningWorker;
  config: Config;
  dataDir: string;
  temporalAddress: string;
  /** Every log line the API and workers wrote, parsed. */
  logs: Record<string, unknown>[];
  /** The metrics registry the API and the first worker share, as in `npm start`. */
  registry: Registry;
  /** Starts one more worker on the same task queue. */
  addWorker(): Promise<RunningWorker>;
  stop(): Promise<void>;
}

export interface TestStackOptions {
  /** Environment variables on top of the test defaults (data dir, task queue, upstream). */
  env?: Record<string, string>;
  upstream?: FixtureUpstreamOptions;
  /** A Temporal server of the test's own (one with a Web UI, say) instead of the shared one. */
  temporalAddress?: string;
}

/** A logger whose JSON lines are kept in `logs`, and a metrics registry, as a process would have them. */
export function testTelemetry(): { logger: Logger; registry: Registry; logs: Record<string, unknown>[] } {
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger(
    { level: 'info', service: 'test' },
    { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, registry: createRegistry(), logs };
}

/** The Temporal address and workflow bundle prepared by the global setup. */
export function testTemporal(): { address: string; bundlePath: string } {
  const address = process.env.TEST_TEMPORAL_ADDRESS;
  const bundlePath = process.env.TEST_WORKFLOW_BUNDLE;
  if (!address || !bundlePath) throw new Error('The global setup did not run (TEST_TEMPORAL_ADDRESS is unset)');
  return { address, bundlePath };
}

/**
 * The real API and worker, as `npm start` composes them, on the shared test Temporal server with a task
 * queue of their own, a temporary data directory and a fixture upstream; plus an `openai` client.
 */
export async function startTestStack(options: TestStackOptions = {}): Promise<TestStack> {
  quietTemporalRuntime();
  const shared = testTemporal();
  const { bundlePath } = shared;
  const address = options.temporalAddress ?? shared.address;
  const upstream = await startFixtureUpstream(options.upstream);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'batch-test-'));
  const config = loadConfig(
    {
      DATA_DIR: dataDir,
      PORT: '0',
      TEMPORAL_ADDRESS: address,
      TEMPORAL_TASK_QUEUE: `test-${randomBytes(6).toString('hex')}`,
      UPSTREAM_BASE_URL: upstream.baseUrl,
      ...options.env,
    },
    'standalone',
  );
  const { logger, registry, logs } = testTelemetry();
  const workers: RunningWorker[] = [];
  const addWorker = async () => {
    const w = await startWorker(config, {
      temporalAddress: address,
      workflowBundle: { codePath: bundlePath },
      identity: `test-worker-${workers.length + 1}@${process.pid}`,
      logger,
      // A further worker is a process of its own in production, with a registry of its own.
      registry: workers.length === 0 ? registry : createRegistry(),
    });
    workers.push(w);
    return w;
  };
  const worker = await addWorker();
  const api = await startApiServer(config, address, {
    logger,
    registry,
    dashboardDir: process.env.TEST_DASHBOARD_DIR ?? null,
  });
  const client = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: options.env?.API_KEYS?.split(',')[0] ?? 'unused' });
  return {
    client,
    upstream,
    api,
    worker,
    config,
    dataDir,
    temporalAddress: address,
    logs,
    registry,
    addWorker,
    async stop() {
      await api.stop();
      await Promise.all(workers.map((w) => w.stop()));
      await upstream.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** One JSONL request line of `endpoint`, with a body in its shape (`extraBody` on top). */
export function requestLine(
  customId: string,
  endpoint: BatchEndpoint,
  extraBody: Record<string, unknown> = {},
  model = 'fixture-model',
): Record<string, unknown> {
  const text = `hello from ${customId}`;
  const bodies: Record<BatchEndpoint, Record<string, unknown>> = {
    '/v1/chat/completions': { model, messages: [{ role: 'user', content: text }] },
    '/v1/completions': { model, prompt: text },
    '/v1/embeddings': { model, input: text },
    '/v1/responses': { model, input: text },
    '/v1/moderations': { model, input: text },
  };
  return { custom_id: customId, method: 'POST', url: endpoint, body: { ...bodies[endpoint], ...extraBody } };
}

/** Uploads lines (objects are serialized, strings sent as they are) as a `.jsonl` batch input file. */
export async function uploadLines(client: OpenAI, lines: (Record<string, unknown> | string)[], name = 'input.jsonl') {
  const text = lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
  return client.files.create({ file: await toFile(Buffer.from(text), name), purpose: 'batch' });
}

/** Uploads request lines and creates a batch over them (24h window). */
export async function createBatch(
  client: OpenAI,
  lines: (Record<string, unknown> | string)[],
  endpoint: BatchEndpoint = '/v1/chat/completions',
) {
  const file = await uploadLines(client, lines);
  return client.batches.create({ input_file_id: file.id, endpoint, completion_window: '24h' });
}

/** Polls a batch until at least `completed` of its requests are done. */
export async function waitForCompleted(client: OpenAI, batchId: string, completed: number): Promise<void> {
  while ((await client.batches.retrieve(batchId)).request_counts!.completed < completed) {
    await new Promise((r) => setTimeout(r, 50));
  }
}

const TERMINAL = ['completed', 'failed', 'expired', 'cancelled'];

/** Polls a batch until it ends, returning every distinct state seen on the way and the last one. */
export async function waitForBatch(
  client: OpenAI,
  batchId: string,
  { timeoutMs = 60_000, intervalMs = 50 } = {},
): Promise<{ batch: OpenAI.Batches.Batch; seen: OpenAI.Batches.Batch[] }> {
  const seen: OpenAI.Batches.Batch[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const batch = await client.batches.retrieve(batchId);
    const last = seen[seen.length - 1];
    if (
      last === undefined ||
      last.status !== batch.status ||
      JSON.stringify(last.request_counts) !== JSON.stringify(batch.request_counts)
    ) {
      seen.push(batch);
    }
    if (TERMINAL.includes(batch.status)) return { batch, seen };
    if (Date.now() > deadline) throw new Error(`Batch ${batchId} still '${batch.status}' after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The parsed lines of a file's content, downloaded with the SDK. */
export async function downloadLines(client: OpenAI, fileId: string): Promise<Record<string, any>[]> {
  const text = await (await client.files.content(fileId)).text();
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, any>);
}

/**
 * Replays the histories of finished batches (scenario → batch id) against the workflow bundle: throws on
 * any nondeterminism in the code that just ran them.
 */
export async function replayHistories(batches: Record<string, string>): Promise<void> {
  const { address, bundlePath } = testTemporal();
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection });
    for (const batchId of Object.values(batches)) {
      const history = await client.workflow.getHandle(batchId).fetchHistory();
      await Worker.runReplayHistory({ workflowBundle: { codePath: bundlePath } }, history, batchId);
    }
  } finally {
    await connection.close();
  }
}
