import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { BatchUsage } from '../common/batch';
import { addUsage, emptyUsage } from '../common/batch';
import { FailureType } from '../common/failure-types';
import type { FileStore } from '../storage';
import type { Logger } from '../telemetry/logger';
import type { WorkerMetrics } from '../telemetry/metrics';
import { batchRequestIds, keys, ObjectNotFoundError, readJson, writeJson } from '../storage';
import { isBlank, readLineBatches } from './jsonl/line-reader';
import type { RawLine } from './jsonl/line-reader';
import type { ManifestCache, SegmentRecord } from './manifest';
import { scanRequestLine } from './jsonl/json-scan';
import { Stopper } from '../upstream/stopper';
import {
  errorLine,
  readUpstreamBody,
  responseLine,
  USAGE_FIELDS,
  usageFromNumbers,
  usageNumbers,
} from './jsonl/result-lines';
import type { UpstreamClient } from '../upstream/client';
import { Slot } from '../upstream/client';

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
const SEGMENT_MAX_LINES = 500;
/**
 * …or this long after the last flush. What a crash makes the retry send again is what finished since the
 * last flush: about this long of the worker's throughput.
 */
const FLUSH_INTERVAL_MS = 1000;
/** Heartbeats go out on a timer too, so a chunk waiting on slow requests is not taken for dead. */
const HEARTBEAT_INTERVAL_MS = 1000;

/** The state of a position of a chunk: no result yet, a result line for either file, or flushed. */
const PENDING = 0;
const OUTPUT = 1;
const ERROR = 2;
const FLUSHED = 3;

/**
 * The results of a chunk's lines, by position, without an object per line: the state, the result line
 * until it is flushed, and the usage numbers of each successful response.
 */
class ChunkResults {
  readonly state: Uint8Array;
  readonly lines: (string | undefined)[];
  readonly usage: Float64Array;

  constructor(size: number) {
    this.state = new Uint8Array(size);
    this.lines = new Array<string | undefined>(size);
    this.usage = new Float64Array(size * USAGE_FIELDS);
  }

  set(i: number, kind: typeof OUTPUT | typeof ERROR, line: string, usage: unknown = null): void {
    this.state[i] = kind;
    this.lines[i] = line;
    if (kind === OUTPUT) usageNumbers(usage, this.usage, i * USAGE_FIELDS);
  }

  /** Forgets the lines of positions [from, to), now in storage. */
  flushed(from: number, to: number): void {
    this.state.fill(FLUSHED, from, to);
    this.lines.fill(undefined, from, to);
  }
}

/** setTimeout's longest delay (about 24.8 days); a longer window is cut short by the workflow's timer anyway. */
const MAX_TIMER_MS = 2 ** 31 - 1;

type StopReason = 'deadline' | 'cancelled' | 'shutdown' | 'unreachable' | 'error';

interface Deps {
  store: FileStore;
  upstream: UpstreamClient;
  manifests: ManifestCache;
  logger: Logger;
  metrics: WorkerMetrics;
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
export function createExecuteChunk({ store, upstream, manifests, logger, metrics }: Deps) {
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
    const log = logger.child({ batch_id: batchId, chunk: chunkIndex });
    const resumed = ctx.info.heartbeatDetails as Checkpoint | undefined;
    if (resumed !== undefined || ctx.info.attempt > 1) {
      metrics.chunkRetries.inc();
      log.info({ attempt: ctx.info.attempt, from_line: resumed?.nextLine ?? chunk.firstLine }, 'chunk resumed');
    }
    let cp: Checkpoint = resumed ?? {
      nextLine: chunk.firstLine,
      nextByte: chunk.start,
      completed: 0,
      failed: 0,
      usage: emptyUsage(),
    };
    // A crashed attempt (or one whose completion Temporal never recorded) may have flushed segments its
    // last recorded heartbeat does not cover: those that follow on from it are kept, the rest redone.
    cp = await recoverSegments(store, batchId, chunkIndex, cp);
    const output = (ranAll: boolean): ExecuteChunkOutput => ({
      completed: cp.completed,
      failed: cp.failed,
      usage: cp.usage,
      ranAll,
    });
    if (cp.nextLine >= endLine) return output(true);
    if (Date.now() >= input.deadlineMs) return output(false);

    // Lines are read as the loops below take them, a stream piece at a time, never the whole chunk, and
    // only once a slot is free to send them: a line's text is made when it is taken and lives until it is
    // sent, so a chunk holds little beyond one piece and its requests in flight.
    const base = cp.nextLine;
    const total = endLine - base;
    const source = new LineSource(requestLines(store, input.inputFileId, cp, chunk.end));
    const ends: number[] = []; // byte offset just past each line taken so far, by position
    const results = new ChunkResults(total);
    let taken = 0;
    let committed = 0; // positions [0, committed) are flushed
    let ready = 0; // positions [0, ready) have results
    let lastFlush = Date.now();
    let flushing: Promise<void> = Promise.resolve();
    let stopReason: StopReason | null = null;
    let stopError: unknown = null;
    const stopper = new Stopper();
    const stopWith = (reason: StopReason) => {
      stopReason ??= reason;
      stopper.stop(new Error(`Chunk stopped: ${reason}`));
    };

    /** Writes positions [committed, upTo) as one segment; with `final`, lines without a result are skipped. */
    const flush = (upTo: number, final = false): Promise<void> => {
      flushing = flushing.then(async () => {
        if (upTo <= committed) return;
        // A final segment may cover lines never read; it is the chunk's last, so its end is the chunk's.
        const endByte = ends[upTo - 1] ?? chunk.end;
        const segment = await writeSegment(store, batchId, chunkIndex, base, results, committed, upTo, final, endByte);
        results.flushed(committed, upTo);
        committed = upTo;
        cp = {
          nextLine: segment.end,
          nextByte: endByte,
          completed: cp.completed + segment.completed,
          failed: cp.failed + segment.failed,
          usage: addUsage(addUsage(emptyUsage(), cp.usage), segment.usage),
        };
        metrics.requests.inc({ outcome: 'completed' }, segment.completed);
        metrics.requests.inc({ outcome: 'failed' }, segment.failed);
        ctx.heartbeat(cp);
      });
      return flushing;
    };

    /** Starts a flush when one is due and none is running (a running one re-checks when it ends). */
    let flushRunning = false;
    const maybeFlush = (): void => {
      if (flushRunning || stopReason !== null || ready <= committed) return;
      if (ready - committed < SEGMENT_MAX_LINES && Date.now() - lastFlush < FLUSH_INTERVAL_MS) return;
      flushRunning = true;
      lastFlush = Date.now();
      flush(ready).then(
        () => {
          flushRunning = false;
          maybeFlush();
        },
        (err: unknown) => {
          stopError = err;
          stopWith('error');
        },
      );
    };

    const requestId = batchRequestIds(batchId);
    /** Sends line `i` with the slot reserved for it; returns the line's model. */
    const runLine = async (i: number, text: string, slot: Slot): Promise<string> => {
      const request = scanRequestLine(text);
      const id = requestId(base + i);
      const res = await upstream.send(
        {
          model: request.model,
          url: request.url,
          body: request.bodyText,
          fairnessKey: batchId,
          priority: chunkIndex,
          deadlineMs: input.deadlineMs,
          stopper,
        },
        slot,
      );
      switch (res.kind) {
        case 'aborted':
          return request.model;
        case 'unreachable':
          stopWith('unreachable');
          return request.model;
        case 'failure':
          results.set(i, ERROR, errorLine(id, request.customId, res.code, res.message));
          break;
        case 'response': {
          const body = readUpstreamBody(res.bodyText, res.status);
          const line = responseLine(id, request.customId, res.status, res.requestId, body.bodyJson);
          const ok = body.json && res.status >= 200 && res.status < 300;
          results.set(i, ok ? OUTPUT : ERROR, line, body.usage);
          break;
        }
      }
      while (ready < total && results.state[ready] !== PENDING) ready++;
      maybeFlush();
      return request.model;
    };

    const onCancel = () => stopWith(ctx.cancellationDetails?.cancelRequested ? 'cancelled' : 'shutdown');
    ctx.cancellationSignal.addEventListener('abort', onCancel);
    const deadlineTimer = setTimeout(() => stopWith('deadline'), Math.min(MAX_TIMER_MS, input.deadlineMs - Date.now()));
    // The timer also flushes what finished while the rest of the chunk waits on slow requests.
    const heartbeatTimer = setInterval(() => {
      maybeFlush();
      ctx.heartbeat(cp);
    }, HEARTBEAT_INTERVAL_MS);
    ctx.heartbeat(cp);
    try {
      // Loops take lines in order, so finished lines form a contiguous prefix that flushes early. A loop
      // holds a slot of the upstream's concurrency before it reads a line, and keeps it for its next line
      // while no other batch and no earlier chunk waits for one. A chunk has at most one loop waiting in the
      // limiter's queue: the loop that gets a slot starts the next, up to as many as the upstream may serve
      // at once. So a chunk that waits for its turn holds one place in line, not a loop, a promise and a
      // line per slot, all surviving garbage collection while they wait.
      const maxLoops = Math.min(total, upstream.maxConcurrency);
      let loops = 0;
      let queued = false;
      let linesLeft = true;
      let allEnded!: () => void;
      const ended = new Promise<void>((resolve) => (allEnded = resolve));
      const failed = (err: unknown) => {
        stopError ??= err;
        stopWith('error');
      };
      const start = (): void => {
        loops++;
        loop()
          .catch(failed)
          .finally(() => {
            if (--loops === 0) allEnded();
          });
      };
      const loop = async (): Promise<void> => {
        let model: string | null = null;
        const slot = new Slot();
        try {
          while (stopReason === null && linesLeft) {
            if (slot.held && !upstream.mayKeep(slot, batchId, chunkIndex)) slot.release();
            if (!slot.held && !upstream.tryReserve(slot, model)) {
              if (queued) return;
              queued = true;
              const got = await upstream.reserve(slot, model, batchId, stopper, chunkIndex);
              queued = false;
              if (!got) return;
            }
            if (loops < maxLoops && !queued) start();
            let item = source.take();
            while (item === undefined && (await source.more())) item = source.take();
            if (item === undefined) {
              linesLeft = false;
              return;
            }
            const i = taken++;
            ends[i] = item.end;
            model = await runLine(i, item.text, slot).catch((err: unknown) => {
              failed(err);
              return model;
            });
          }
        } finally {
          slot.release();
        }
      };
      start();
      await ended;
    } finally {
      clearTimeout(deadlineTimer);
      clearInterval(heartbeatTimer);
      ctx.cancellationSignal.removeEventListener('abort', onCancel);
      await source.close();
    }
    await flushing.catch(() => undefined);
    if (stopReason === null && taken !== total) {
      throw ApplicationFailure.nonRetryable(
        `Chunk ${chunkIndex} holds ${taken} lines from line ${base}, the manifest says ${total}`,
        FailureType.CorruptBatchState,
      );
    }

    metrics.chunks.inc({ outcome: stopReason ?? 'completed' });
    if (stopReason === 'unreachable' || stopReason === 'error') {
      log.warn(
        { reason: stopReason, err: stopError instanceof Error ? stopError.message : undefined },
        'chunk stopped',
      );
    }
    switch (stopReason as StopReason | null) {
      case null:
        await flush(total);
        return output(true);
      case 'deadline':
        await flush(total, true);
        return output(false);
      case 'cancelled':
        await flush(total, true);
        throw new CancelledFailure('The batch was cancelled');
      case 'unreachable':
        await flush(ready);
        throw ApplicationFailure.create({
          message: 'The upstream refused connections; the chunk resumes from its watermark later',
          type: FailureType.UpstreamUnavailable,
        });
      case 'shutdown':
        await flush(ready);
        // A failure, not a cancellation: nobody cancelled the activity, and a failed attempt is retried
        // at once by another worker, where an unsolicited cancellation would wait for the heartbeat timeout.
        throw ApplicationFailure.create({
          message: 'The worker is shutting down; the chunk resumes from its watermark',
          type: FailureType.WorkerShutdown,
        });
      case 'error':
      default:
        await flush(ready).catch(() => undefined);
        throw stopError;
    }
  };
}

/**
 * The lines of a chunk, read a stream piece at a time and taken one by one: a line comes without a promise
 * while its piece lasts, and the loops that find the piece used up wait together for the next one.
 */
class LineSource {
  private batch: RawLine[] = [];
  private at = 0;
  private reading: Promise<boolean> | null = null;
  private done = false;

  constructor(private readonly batches: AsyncGenerator<RawLine[]>) {}

  /** The next request line if its piece is read; undefined when {@link more} must read first. */
  take(): { end: number; text: string } | undefined {
    while (this.at < this.batch.length) {
      const raw = this.batch[this.at++];
      if (!isBlank(raw.bytes)) return { end: raw.end, text: raw.bytes.toString('utf8') };
    }
    return undefined;
  }

  /** Reads the next piece; false when the chunk has no more. Loops that call it at once share the read. */
  more(): Promise<boolean> {
    if (this.done) return Promise.resolve(false);
    this.reading ??= this.batches.next().then((next) => {
      this.reading = null;
      if (next.done === true) {
        this.done = true;
        return false;
      }
      this.batch = next.value;
      this.at = 0;
      return true;
    });
    return this.reading;
  }

  async close(): Promise<void> {
    await this.batches.return(undefined);
  }
}

/** The lines of a chunk from the checkpoint on, read lazily, a stream piece at a time. */
async function* requestLines(store: FileStore, fileId: string, cp: Checkpoint, end: number): AsyncGenerator<RawLine[]> {
  let stream;
  try {
    stream = await store.createReadStream(keys.fileContent(fileId), { start: cp.nextByte, end });
  } catch (err) {
    if (err instanceof ObjectNotFoundError) {
      throw ApplicationFailure.nonRetryable(`The input file ${fileId} is gone`, FailureType.InputFileMissing);
    }
    throw err;
  }
  try {
    yield* readLineBatches(stream, cp.nextByte);
  } finally {
    stream.destroy();
  }
}

async function writeSegment(
  store: FileStore,
  batchId: string,
  chunkIndex: number,
  base: number,
  results: ChunkResults,
  from: number,
  to: number,
  final: boolean,
  endByte: number,
): Promise<SegmentRecord> {
  const out: string[] = [];
  const err: string[] = [];
  const skipped: number[] = [];
  const sum = new Float64Array(USAGE_FIELDS);
  for (let i = from; i < to; i++) {
    const state = results.state[i];
    if (state === PENDING) {
      if (!final) throw new Error(`Line ${base + i} has no result yet`);
      skipped.push(base + i);
    } else if (state === OUTPUT) {
      out.push(results.lines[i] as string);
      for (let k = 0; k < USAGE_FIELDS; k++) sum[k] += results.usage[i * USAGE_FIELDS + k];
    } else {
      err.push(results.lines[i] as string);
    }
  }
  const usage = usageFromNumbers(sum, 0);
  const start = base + from;
  const record: SegmentRecord = {
    start,
    end: base + to,
    endByte,
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

/**
 * Where a chunk attempt starts: after `cp` (the last heartbeat Temporal recorded), and after every segment
 * a previous attempt flushed that follows on from it, so that only what was not stored is sent again. A
 * segment exists exactly when its record does (written last). Segments that do not follow on, that hold
 * lines never run, or whose record predates `endByte` are deleted (record first) and redone.
 */
async function recoverSegments(
  store: FileStore,
  batchId: string,
  chunkIndex: number,
  cp: Checkpoint,
): Promise<Checkpoint> {
  const prefix = keys.chunkParts(batchId, chunkIndex);
  const startOf = (key: string) => Number(key.slice(prefix.length).split('.')[0]);
  const later = (await store.list(prefix)).filter((key) => {
    const start = startOf(key);
    return Number.isInteger(start) && start >= cp.nextLine;
  });
  const records = later.filter((key) => key.endsWith('.seg.json')).sort((a, b) => startOf(a) - startOf(b));
  let next = cp;
  for (const key of records) {
    if (startOf(key) !== next.nextLine) break;
    const record = await readJson<SegmentRecord>(store, key);
    if (record === null || record.endByte === undefined || record.skipped.length > 0) break;
    next = {
      nextLine: record.end,
      nextByte: record.endByte,
      completed: next.completed + record.completed,
      failed: next.failed + record.failed,
      usage: addUsage(addUsage(emptyUsage(), next.usage), record.usage),
    };
  }
  const stale = later.filter((key) => startOf(key) >= next.nextLine);
  const order = (key: string) => (key.endsWith('.seg.json') ? 0 : 1);
  for (const key of stale.sort((a, b) => order(a) - order(b))) await store.delete(key);
  return next;
}
