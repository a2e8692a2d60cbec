import { setMaxListeners } from 'node:events';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { BatchUsage } from '../common/batch';
import { addUsage, emptyUsage } from '../common/batch';
import { FailureType } from '../common/failure-types';
import type { FileStore } from '../storage';
import { batchRequestId, keys, ObjectNotFoundError, writeJson } from '../storage';
import { isBlank, readLines } from './line-reader';
import type { ManifestCache, SegmentRecord } from './manifest';
import type { RequestLine } from './request-line';
import { errorLine, parseUpstreamBody, responseLine, usageOf } from './result-lines';
import type { UpstreamClient } from './upstream-client';

export interface ExecuteChunkInput {
  batchId: string;
  inputFileId: string;
  manifestKey: string;
  chunkIndex: number;
  /** The batch's deadline (epoch ms): nothing is sent after it. */
  deadlineMs: number;
}

export interface ExecuteChunkOutput {
  completed: number;
  failed: number;
  usage: BatchUsage;
  /** False when the deadline stopped the chunk before every line ran. */
  ranAll: boolean;
}

/** The heartbeat: everything before `nextLine` is flushed to storage, with these totals. */
interface Checkpoint {
  nextLine: number;
  nextByte: number;
  completed: number;
  failed: number;
  usage: BatchUsage;
}

/** A segment is flushed once this many lines in a row are finished… */
const SEGMENT_MAX_LINES = 100;
/**
 * …or this long after the last flush. What a crash makes the retry send again is what finished since the
 * last flush: about this long of the worker's throughput.
 */
const FLUSH_INTERVAL_MS = 1000;
/** Heartbeats go out on a timer too, so a chunk waiting on slow requests is not taken for dead. */
const HEARTBEAT_INTERVAL_MS = 1000;

type LineResult = { ok: true; text: string; usage: BatchUsage } | { ok: false; text: string };

interface PendingLine {
  index: number;
  end: number;
  text: string;
}

type StopReason = 'deadline' | 'cancelled' | 'shutdown' | 'unreachable' | 'error';

interface Deps {
  store: FileStore;
  upstream: UpstreamClient;
  manifests: ManifestCache;
}

/**
 * Builds `executeChunk`: sends the requests of one chunk upstream, at most the worker-wide cap at a time,
 * and writes their result lines to storage in segments. It heartbeats a watermark (every line before it is
 * flushed), so a retry after a crash resumes there; lines past the watermark may be sent again, which costs
 * upstream work but never duplicates a result line.
 *
 * At the batch's deadline, or when the batch is cancelled, in-flight requests are aborted and everything
 * finished is flushed; lines that did not run are recorded as skipped for finalize to report.
 */
export function createExecuteChunk({ store, upstream, manifests }: Deps) {
  return async function executeChunk(input: ExecuteChunkInput): Promise<ExecuteChunkOutput> {
    const ctx = Context.current();
    const { batchId, chunkIndex } = input;
    const chunk = (await manifests.get(input.manifestKey)).chunks[chunkIndex];
    if (chunk === undefined) {
      throw ApplicationFailure.nonRetryable(
        `Chunk ${chunkIndex} is not in the manifest`,
        FailureType.CorruptBatchState,
      );
    }
    const endLine = chunk.firstLine + chunk.count;
    let cp: Checkpoint = (ctx.info.heartbeatDetails as Checkpoint | undefined) ?? {
      nextLine: chunk.firstLine,
      nextByte: chunk.start,
      completed: 0,
      failed: 0,
      usage: emptyUsage(),
    };
    // A crashed attempt may have flushed segments its last heartbeat did not record: they are redone.
    await removeSegmentsFrom(store, batchId, chunkIndex, cp.nextLine);
    const output = (ranAll: boolean): ExecuteChunkOutput => ({
      completed: cp.completed,
      failed: cp.failed,
      usage: cp.usage,
      ranAll,
    });
    if (cp.nextLine >= endLine) return output(true);
    if (Date.now() >= input.deadlineMs) return output(false);

    const lines = await loadLines(store, input.inputFileId, cp, chunk.end);
    if (cp.nextLine + lines.length !== endLine) {
      throw ApplicationFailure.nonRetryable(
        `Chunk ${chunkIndex} holds ${lines.length} lines from line ${cp.nextLine}, the manifest says ${endLine - cp.nextLine}`,
        FailureType.CorruptBatchState,
      );
    }

    const results = new Array<LineResult | undefined>(lines.length);
    let committed = 0; // lines[0, committed) are flushed
    let ready = 0; // lines[0, ready) have results
    let lastFlush = Date.now();
    let flushing: Promise<void> = Promise.resolve();
    let stopReason: StopReason | null = null;
    let stopError: unknown = null;
    const stop = new AbortController();
    // Every line in flight listens on this one signal: hundreds of listeners are expected, not a leak.
    setMaxListeners(0, stop.signal);
    const stopWith = (reason: StopReason) => {
      stopReason ??= reason;
      stop.abort();
    };

    /** Writes lines[committed, upTo) as one segment; with `final`, lines without a result are skipped. */
    const flush = (upTo: number, final = false): Promise<void> => {
      flushing = flushing.then(async () => {
        if (upTo <= committed) return;
        const from = committed;
        const segment = await writeSegment(store, batchId, chunkIndex, lines, results, from, upTo, final);
        committed = upTo;
        cp = {
          nextLine: segment.end,
          nextByte: lines[upTo - 1].end,
          completed: cp.completed + segment.completed,
          failed: cp.failed + segment.failed,
          usage: addUsage(structuredClone(cp.usage), segment.usage),
        };
        ctx.heartbeat(cp);
      });
      return flushing;
    };

    const runLine = async (i: number): Promise<void> => {
      const line = lines[i];
      const request = JSON.parse(line.text) as RequestLine;
      const id = batchRequestId(batchId, line.index);
      const res = await upstream.send({
        model: request.body.model,
        url: request.url,
        body: JSON.stringify(request.body),
        fairnessKey: batchId,
        deadlineMs: input.deadlineMs,
        signal: stop.signal,
      });
      switch (res.kind) {
        case 'aborted':
          return;
        case 'unreachable':
          stopWith('unreachable');
          return;
        case 'failure':
          results[i] = { ok: false, text: errorLine(id, request.custom_id, res.code, res.message) };
          break;
        case 'response': {
          const { body, json } = parseUpstreamBody(res.bodyText, res.status);
          const text = responseLine(id, request.custom_id, res.status, res.requestId, res.bodyText, body);
          const ok = json && res.status >= 200 && res.status < 300;
          results[i] = ok ? { ok: true, text, usage: usageOf(body) } : { ok: false, text };
          break;
        }
      }
      while (ready < lines.length && results[ready] !== undefined) ready++;
      const due = ready - committed >= SEGMENT_MAX_LINES || Date.now() - lastFlush >= FLUSH_INTERVAL_MS;
      if (due && ready > committed && stopReason === null) {
        lastFlush = Date.now();
        void flush(ready).catch((err: unknown) => {
          stopError = err;
          stopWith('error');
        });
      }
    };

    const onCancel = () => stopWith(ctx.cancellationDetails?.cancelRequested ? 'cancelled' : 'shutdown');
    ctx.cancellationSignal.addEventListener('abort', onCancel);
    const deadlineTimer = setTimeout(() => stopWith('deadline'), Math.max(0, input.deadlineMs - Date.now()));
    const heartbeatTimer = setInterval(() => ctx.heartbeat(cp), HEARTBEAT_INTERVAL_MS);
    ctx.heartbeat(cp);
    try {
      await Promise.all(
        lines.map((_, i) =>
          runLine(i).catch((err: unknown) => {
            stopError ??= err;
            stopWith('error');
          }),
        ),
      );
    } finally {
      clearTimeout(deadlineTimer);
      clearInterval(heartbeatTimer);
      ctx.cancellationSignal.removeEventListener('abort', onCancel);
    }
    await flushing.catch(() => undefined);

    switch (stopReason as StopReason | null) {
      case null:
        await flush(lines.length);
        return output(true);
      case 'deadline':
        await flush(lines.length, true);
        return output(false);
      case 'cancelled':
        await flush(lines.length, true);
        throw new CancelledFailure('The batch was cancelled');
      case 'unreachable':
        await flush(ready);
        throw ApplicationFailure.create({
          message: 'The upstream refused connections; the chunk resumes from its watermark later',
          type: FailureType.UpstreamUnavailable,
        });
      case 'shutdown':
        await flush(ready);
        throw new CancelledFailure('The worker is shutting down');
      case 'error':
      default:
        await flush(ready).catch(() => undefined);
        throw stopError;
    }
  };
}

async function loadLines(store: FileStore, fileId: string, cp: Checkpoint, end: number): Promise<PendingLine[]> {
  let stream;
  try {
    stream = await store.createReadStream(keys.fileContent(fileId), { start: cp.nextByte, end });
  } catch (err) {
    if (err instanceof ObjectNotFoundError) {
      throw ApplicationFailure.nonRetryable(`The input file ${fileId} is gone`, FailureType.InputFileMissing);
    }
    throw err;
  }
  const lines: PendingLine[] = [];
  let index = cp.nextLine;
  for await (const raw of readLines(stream, cp.nextByte)) {
    if (isBlank(raw.bytes)) continue;
    lines.push({ index: index++, end: raw.end, text: raw.bytes.toString('utf8') });
  }
  return lines;
}

async function writeSegment(
  store: FileStore,
  batchId: string,
  chunkIndex: number,
  lines: PendingLine[],
  results: (LineResult | undefined)[],
  from: number,
  to: number,
  final: boolean,
): Promise<SegmentRecord> {
  const out: string[] = [];
  const err: string[] = [];
  const skipped: number[] = [];
  const usage = emptyUsage();
  for (let i = from; i < to; i++) {
    const r = results[i];
    if (r === undefined) {
      if (!final) throw new Error(`Line ${lines[i].index} has no result yet`);
      skipped.push(lines[i].index);
    } else if (r.ok) {
      out.push(r.text);
      addUsage(usage, r.usage);
    } else {
      err.push(r.text);
    }
  }
  const start = lines[from].index;
  const record: SegmentRecord = {
    start,
    end: lines[to - 1].index + 1,
    completed: out.length,
    failed: err.length,
    usage,
    skipped,
    hasOutput: out.length > 0,
    hasErrors: err.length > 0,
  };
  await Promise.all([
    out.length > 0 ? store.write(keys.segment(batchId, chunkIndex, start, 'out.jsonl'), out.join('\n') + '\n') : null,
    err.length > 0 ? store.write(keys.segment(batchId, chunkIndex, start, 'err.jsonl'), err.join('\n') + '\n') : null,
  ]);
  // The record goes last: a segment exists exactly when its record does.
  await writeJson(store, keys.segment(batchId, chunkIndex, start, 'seg.json'), record);
  return record;
}

/** Deletes the segments of a chunk that start at or after `fromLine`, record first. */
async function removeSegmentsFrom(store: FileStore, batchId: string, chunkIndex: number, fromLine: number) {
  const prefix = keys.chunkParts(batchId, chunkIndex);
  const stale = (await store.list(prefix)).filter((key) => {
    const start = Number(key.slice(prefix.length).split('.')[0]);
    return Number.isInteger(start) && start >= fromLine;
  });
  const order = (key: string) => (key.endsWith('.seg.json') ? 0 : 1);
  for (const key of stale.sort((a, b) => order(a) - order(b))) await store.delete(key);
}
