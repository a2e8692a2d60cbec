import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type * as ExecuteChunkModule from '../../activities/execute-chunk';
import type * as BatchPartsModule from '../../activities/batch-parts';
import type * as ChunkPlanModule from '../../activities/chunk-plan';
import type * as StorageModule from '../../storage';
import type * as LocalStoreModule from '../../storage/local-file-store';
import type * as LoggerModule from '../../telemetry/logger';
import type * as MetricsModule from '../../telemetry/metrics';
import type * as UpstreamModule from '../../upstream/client';
import { runAsActivity } from '../../test/helpers/activity-context';
import type { Scenario } from '../scenario';
import { measured } from '../harness/cpu';
import type { Measured } from '../harness/cpu';
import { smallLine, writeInput } from '../harness/inputs';
import { plainRun } from '../harness/plain-client';
import { ROOT } from '../harness/processes';
import { median, seconds } from '../harness/report';

/** The compiled modules the chunk activity is made of, as the worker process runs them. */
type Dist = ReturnType<typeof loadDist>;

/** A batch's input in the store, and its chunks as the workflow would plan them. */
interface StoredInput {
  store: LocalStoreModule.LocalFileStore;
  file: string;
  fileId: string;
  total: number;
  chunks: ReturnType<typeof ChunkPlanModule.planChunks>;
}

export const executor: Scenario = {
  name: 'executor',
  description:
    'The chunk activity alone, in this process (compiled, from dist/), without Temporal, the API or the ' +
    'polling: the same lines and upstream as throughput, chunked as a batch is, BENCH_WINDOW chunks at a time; ' +
    'wall time, CPU time and GC pauses against the plain client in the same process. It separates what the ' +
    'chunk code costs from what the rest of the stack costs.',
  async run(ctx) {
    const { requests, runs, window, concurrency } = ctx.options;
    const dist = loadDist();
    const stack = await ctx.startUpstreamOnly();
    try {
      const input = await storeInput(dist, stack.dataDir, requests, window);
      const chunked = createChunkRunner(dist, input, stack.upstreamUrl, concurrency, window);
      const plain: Measured[] = [];
      const chunks: Measured[] = [];
      const plainFile = path.join(stack.dataDir, 'plain.jsonl');
      for (let run = 0; run < runs; run++) {
        plain.push(await measured(() => plainRun(stack.upstreamUrl, input.file, plainFile, concurrency)));
        chunks.push(await measured(chunked.run));
      }
      await chunked.close();
      const ratio = (of: (m: Measured) => number) => (median(chunks.map(of)) / median(plain.map(of))).toFixed(2);
      ctx.report(
        `executor: ${requests} requests in ${input.chunks.length} chunks, ${window} at a time, in one process (medians)`,
        [
          ['plain concurrent client', show(plain)],
          ['executeChunk over the chunks', show(chunks)],
          ['ratio (wall / CPU)', `${ratio((m) => m.wallMs)}× / ${ratio((m) => m.cpuMs)}×`],
        ],
      );
    } finally {
      await stack.stop();
    }
  },
};

// From dist/, not the sources: the compiled code a worker process runs, not tsx's transform of it.
function loadDist() {
  const dist = (p: string) => path.join(ROOT, 'dist', p);
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { createExecuteChunk } = require(dist('activities/execute-chunk')) as typeof ExecuteChunkModule;
  const { ManifestCache } = require(dist('activities/batch-parts')) as typeof BatchPartsModule;
  const { planChunks } = require(dist('activities/chunk-plan')) as typeof ChunkPlanModule;
  const { UpstreamClient } = require(dist('upstream/client')) as typeof UpstreamModule;
  const storage = require(dist('storage')) as typeof StorageModule;
  const { LocalFileStore } = require(dist('storage/local-file-store')) as typeof LocalStoreModule;
  const { createLogger } = require(dist('telemetry/logger')) as typeof LoggerModule;
  const metrics = require(dist('telemetry/metrics')) as typeof MetricsModule;
  /* eslint-enable @typescript-eslint/no-require-imports */
  return {
    createExecuteChunk,
    ManifestCache,
    planChunks,
    UpstreamClient,
    storage,
    LocalFileStore,
    createLogger,
    metrics,
  };
}

/** Writes the input file into a local store in `dataDir` and plans its chunks. */
async function storeInput(dist: Dist, dataDir: string, requests: number, window: number): Promise<StoredInput> {
  const store = new dist.LocalFileStore(dataDir);
  const input = await writeInput(dataDir, 'executor.jsonl', requests, smallLine);
  const fileId = dist.storage.newFileId();
  const content = await readFile(input.file);
  await store.write(dist.storage.keys.fileContent(fileId), content);
  const starts: number[] = [];
  for (let at = 0; at < content.length; at = content.indexOf(10, at) + 1 || content.length) starts.push(at);
  // As a batch is cut with the default BATCH_CHUNK_MAX_LINES and BATCH_CHUNK_MAX_BYTES.
  const chunks = dist.planChunks(starts, input.bytes, {
    chunkMaxLines: 10_000,
    chunkMaxBytes: 32 * 1024 * 1024,
    chunkWindow: window,
  });
  return { store, file: input.file, fileId, total: starts.length, chunks };
}

/**
 * `executeChunk` as the worker builds it; `run` executes a new batch's chunks, `window` at a time, each in an
 * activity context of its own (what Temporal's worker would give it: no heartbeats go anywhere).
 */
function createChunkRunner(dist: Dist, input: StoredInput, upstreamUrl: string, concurrency: number, window: number) {
  const { store, fileId, chunks } = input;
  const upstream = new dist.UpstreamClient({
    default: { baseUrl: upstreamUrl, apiKey: null, maxConcurrency: concurrency },
    routes: {},
    timeoutMs: 60_000,
    maxResponseBytes: 128 * 1024 * 1024,
    maxAttempts: 3,
  });
  const executeChunk = dist.createExecuteChunk({
    store,
    upstream,
    manifests: new dist.ManifestCache(store),
    logger: dist.createLogger({ level: 'warn', service: 'bench' }),
    metrics: dist.metrics.createWorkerMetrics(dist.metrics.createRegistry(), () => upstream.limits()),
  });
  const run = async () => {
    const batchId = dist.storage.newBatchId();
    const manifestKey = dist.storage.keys.batchManifest(batchId);
    await dist.storage.writeJson(store, manifestKey, { version: 1, inputFileId: fileId, total: input.total, chunks });
    let next = 0;
    const runner = async () => {
      while (next < chunks.length) {
        const chunkIndex = next++;
        const deadlineMs = Date.now() + 3_600_000;
        await runAsActivity(() => executeChunk({ batchId, inputFileId: fileId, manifestKey, chunkIndex, deadlineMs }));
      }
    };
    await Promise.all(Array.from({ length: window }, runner));
  };
  return { run, close: () => upstream.close() };
}

function show(m: Measured[]): string {
  const wall = median(m.map((x) => x.wallMs));
  const cpu = median(m.map((x) => x.cpuMs));
  const gc = median(m.map((x) => x.gcMs));
  return `${seconds(wall)} wall, ${seconds(cpu)} CPU, ${seconds(gc)} in GC pauses`;
}
