import { Readable } from 'node:stream';
import { Context } from '@temporalio/activity';
import type { Batch, BatchRecord } from '../common/batch';
import { addUsage, emptyUsage, isTerminalStatus } from '../common/batch';
import type { BatchOutcome } from '../common/batch-lifecycle';
import { enterStatus } from '../common/batch-lifecycle';
import type { FileRecord } from '../common/file';
import { newFileObject } from '../common/file';
import type { Catalog } from '../storage';
import type { Logger } from '../telemetry/logger';
import type { WorkerMetrics } from '../telemetry/metrics';
import { batchRequestIds, batchResultFileId, keys } from '../storage';
import { isBlank, readLines } from './jsonl/line-reader';
import type { Manifest } from './batch-parts';
import { corruptState, openInputRange, readManifest, removeParts, storedChunk } from './batch-parts';
import type { ChunkPlan } from './chunk-plan';
import { errorLine } from './jsonl/result-lines';

export interface FinalizeBatchInput {
  /** The batch as the workflow sees it now. */
  record: BatchRecord;
  /** Null when the batch failed before any chunk was planned. */
  manifestKey: string | null;
  outcome: BatchOutcome;
}

/** Output and error files of a batch live 30 days unless `output_expires_after` says otherwise. */
const DEFAULT_OUTPUT_LIFETIME_SECONDS = 30 * 24 * 3600;
/** Chunks whose parts are read at once while finalizing. */
const PARALLEL_CHUNKS = 8;

const NOT_RUN: Record<BatchOutcome, { code: string; message: string }> = {
  expired: {
    code: 'batch_expired',
    message: 'This request could not be executed before the completion window expired.',
  },
  cancelled: { code: 'batch_cancelled', message: 'This request was cancelled before it could be executed.' },
  failed: { code: 'batch_failed', message: 'This request was not executed because the batch failed.' },
  completed: { code: 'batch_failed', message: 'This request was not executed.' },
};

interface ChunkResult {
  completed: number;
  failed: number;
  /** Of `failed`, the requests that never ran (the batch expired, was cancelled or failed first). */
  notRun: number;
  usage: ReturnType<typeof emptyUsage>;
  outputKeys: string[];
  errorKeys: string[];
}

/**
 * Builds `finalizeBatch`: the one place a batch becomes terminal. It reads what the chunks stored (not what
 * the workflow counted), so counts and files agree even after crashes: it writes an error line for every
 * request that never ran, concatenates the parts into the output and error files, registers them as
 * `batch_output` files, writes the final `batch.json` and removes the parts. Running it again after it
 * succeeded returns the stored result.
 */
export function createFinalizeBatch({
  catalog,
  logger,
  metrics,
}: {
  catalog: Catalog;
  logger: Logger;
  metrics: WorkerMetrics;
}) {
  const { store } = catalog;
  return async function finalizeBatch(input: FinalizeBatchInput): Promise<BatchRecord> {
    const { record, outcome } = input;
    const batchId = record.batch.id;
    const stored = await catalog.getBatch(batchId);
    if (stored !== null && isTerminalStatus(stored.batch.status)) return stored;

    const ctx = Context.current();
    const heartbeat = setInterval(() => ctx.heartbeat(), 1000);
    try {
      const now = Math.floor(Date.now() / 1000);
      const batch: Batch = structuredClone(record.batch);
      if (input.manifestKey !== null) {
        await collectResults(catalog, metrics, record, batch, await readManifest(store, input.manifestKey), outcome);
      }
      enterStatus(batch, outcome, now);
      const final: BatchRecord = { ...record, batch };
      await catalog.putBatch(final);
      await removeParts(store, batchId);
      metrics.batches.inc({ status: outcome, tenant: record.tenant?.name ?? record.owner });
      logger.info(
        {
          batch_id: batchId,
          status: outcome,
          ...batch.request_counts,
          output_file_id: batch.output_file_id,
          error_file_id: batch.error_file_id,
        },
        'batch finished',
      );
      return final;
    } finally {
      clearInterval(heartbeat);
    }
  };
}

/**
 * Builds the batch's result files from what its chunks stored, with an error line for every request that
 * never ran, and sets the batch's counts, usage and file ids from them.
 */
async function collectResults(
  catalog: Catalog,
  metrics: WorkerMetrics,
  record: BatchRecord,
  batch: Batch,
  manifest: Manifest,
  outcome: BatchOutcome,
): Promise<void> {
  const results: ChunkResult[] = [];
  for (let i = 0; i < manifest.chunks.length; i += PARALLEL_CHUNKS) {
    const slice = manifest.chunks.slice(i, i + PARALLEL_CHUNKS);
    results.push(...(await Promise.all(slice.map((c) => collectChunk(catalog, record, manifest, c, outcome)))));
  }
  const usage = emptyUsage();
  let completed = 0;
  let failed = 0;
  for (const r of results) {
    completed += r.completed;
    failed += r.failed;
    addUsage(usage, r.usage);
    metrics.requests.inc({ outcome: 'not_run' }, r.notRun);
  }
  if (completed + failed !== manifest.total) {
    throw corruptState(`${batch.id}: ${completed} + ${failed} result lines for ${manifest.total} requests`);
  }
  batch.request_counts = { total: manifest.total, completed, failed };
  batch.usage = usage;
  const now = Math.floor(Date.now() / 1000);
  const lifetime = record.outputExpiresAfterSeconds ?? DEFAULT_OUTPUT_LIFETIME_SECONDS;
  const write = (kind: 'output' | 'error', parts: string[]) =>
    writeResultFile(catalog, record, kind, parts, now, lifetime);
  batch.output_file_id = await write(
    'output',
    results.flatMap((r) => r.outputKeys),
  );
  batch.error_file_id = await write(
    'error',
    results.flatMap((r) => r.errorKeys),
  );
}

/** Sums a chunk's stored segments, and writes error lines for its lines that never ran. */
async function collectChunk(
  catalog: Catalog,
  record: BatchRecord,
  manifest: Manifest,
  chunk: ChunkPlan,
  outcome: BatchOutcome,
): Promise<ChunkResult> {
  const batchId = record.batch.id;
  const stored = await storedChunk(catalog.store, batchId, chunk);
  const result: ChunkResult = {
    completed: 0,
    failed: 0,
    notRun: 0,
    usage: emptyUsage(),
    outputKeys: stored.outputKeys,
    errorKeys: stored.errorKeys,
  };
  for (const s of stored.segments) {
    result.completed += s.completed;
    result.failed += s.failed;
    addUsage(result.usage, s.usage);
  }
  const { notRun } = stored;
  if (notRun.size > 0) {
    const key = keys.unrunLines(batchId, chunk.index);
    await catalog.store.write(
      key,
      Readable.from(unrunLines(catalog, manifest.inputFileId, batchId, chunk, notRun, NOT_RUN[outcome])),
    );
    result.failed += notRun.size;
    result.notRun = notRun.size;
    result.errorKeys.push(key);
  }
  return result;
}

/** Streams the error lines of the requests in `notRun`, reading their custom_ids from the input file. */
async function* unrunLines(
  catalog: Catalog,
  inputFileId: string,
  batchId: string,
  chunk: ChunkPlan,
  notRun: Set<number>,
  reason: { code: string; message: string },
): AsyncGenerator<string> {
  const stream = await openInputRange(catalog.store, inputFileId, chunk.start, chunk.end);
  const requestId = batchRequestIds(batchId);
  let line = chunk.firstLine;
  for await (const raw of readLines(stream, chunk.start)) {
    if (isBlank(raw.bytes)) continue;
    if (notRun.has(line)) {
      const { custom_id } = JSON.parse(raw.bytes.toString('utf8')) as { custom_id: string };
      yield errorLine(requestId(line), custom_id, reason.code, reason.message) + '\n';
    }
    line++;
  }
}

/** Concatenates parts into a `batch_output` file with an id derived from the batch; null when there are none. */
async function writeResultFile(
  catalog: Catalog,
  record: BatchRecord,
  kind: 'output' | 'error',
  parts: string[],
  now: number,
  lifetimeSeconds: number,
): Promise<string | null> {
  if (parts.length === 0) return null;
  const fileId = batchResultFileId(record.batch.id, kind);
  const bytes = await catalog.store.concat(parts, keys.fileContent(fileId));
  const file: FileRecord = {
    owner: record.owner,
    file: newFileObject({
      id: fileId,
      bytes,
      filename: `${record.batch.id}_${kind}.jsonl`,
      purpose: 'batch_output',
      createdAt: now,
      lifetimeSeconds,
    }),
  };
  await catalog.putFile(file);
  return fileId;
}
