/**
 * The results of one chunk attempt and when they go to storage. Lines finish out of order; finished lines
 * that form a prefix are flushed as a segment every {@link SEGMENT_MAX_LINES} lines, {@link FLUSH_INTERVAL_MS}
 * or {@link SEGMENT_MAX_CHARS} of result lines held, and each flush moves the checkpoint the chunk
 * heartbeats. A crash costs what finished since the last flush: about half a second of the worker's
 * throughput.
 */
import type { FileStore } from '../storage';
import type { ChunkProgress, SegmentRecord } from './batch-parts';
import { afterSegment, writeSegment } from './batch-parts';
import { USAGE_FIELDS, usageFromNumbers, usageNumbers } from './jsonl/result-lines';

/** A segment is flushed once this many lines in a row are finished… */
const SEGMENT_MAX_LINES = 500;
/** …or this long after the last flush… */
const FLUSH_INTERVAL_MS = 500;
/**
 * …or once the result lines held reach this many characters: embeddings answers run to hundreds of KB a
 * line (a float array per input), and 500 of them must not wait in memory for their segment.
 */
export const SEGMENT_MAX_CHARS = 8 * 1024 * 1024;

/** The state of a position of a chunk: no result yet, a result line for either file, or flushed. */
const PENDING = 0;
export const OUTPUT = 1;
export const ERROR = 2;
const FLUSHED = 3;

/**
 * The results of a chunk's lines, by position, without an object per line: the state, the result line
 * until it is flushed, and the usage numbers of each successful response.
 */
class Results {
  readonly state: Uint8Array;
  readonly lines: (string | undefined)[];
  readonly usage: Float64Array;

  constructor(size: number) {
    this.state = new Uint8Array(size);
    this.lines = new Array<string | undefined>(size);
    this.usage = new Float64Array(size * USAGE_FIELDS);
  }
}

export interface ChunkRunOptions {
  store: FileStore;
  batchId: string;
  chunkIndex: number;
  /** Temporal's attempt number: segments of attempts that overlap are stored apart. */
  attempt: number;
  /** Where this attempt starts. */
  from: ChunkProgress;
  /** Lines left from `from` to the chunk's end. */
  total: number;
  /** Byte offset just past the chunk's last line. */
  endByte: number;
  /** Told the new checkpoint after every flush (the heartbeat). */
  onFlushed: (progress: ChunkProgress, segment: SegmentRecord) => void;
  /** Told when a background flush failed: the chunk must stop. */
  onFlushError: (err: unknown) => void;
}

/** One attempt's results: positions 0… are the lines from `from.nextLine` on. */
export class ChunkRun {
  /** The checkpoint: everything before it is stored. */
  progress: ChunkProgress;
  /** Byte offset just past each line taken so far, by position. */
  private readonly ends: number[] = [];
  private readonly results: Results;
  private readonly base: number;
  /** Positions [0, committed) are flushed; [0, ready) have results. */
  private committed = 0;
  private ready = 0;
  private lastFlush = Date.now();
  /** Characters of the result lines recorded and not flushed yet. */
  private held = 0;
  private flushRunning = false;
  private flushing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: ChunkRunOptions) {
    this.progress = options.from;
    this.base = options.from.nextLine;
    this.results = new Results(options.total);
  }

  /** Notes where line `position` ends in the input, as it is taken. */
  taken(position: number, endByte: number): void {
    this.ends[position] = endByte;
  }

  /** Records the result line of `position`; flushes when a segment is due. */
  record(position: number, kind: typeof OUTPUT | typeof ERROR, line: string, usage: unknown = null): void {
    const { results } = this;
    results.state[position] = kind;
    results.lines[position] = line;
    this.held += line.length;
    if (kind === OUTPUT) usageNumbers(usage, results.usage, position * USAGE_FIELDS);
    while (this.ready < this.options.total && results.state[this.ready] !== PENDING) this.ready++;
    this.maybeFlush();
  }

  /** Starts a flush when one is due and none is running (a running one re-checks when it ends). */
  maybeFlush(): void {
    if (this.flushRunning || this.stopped || this.ready <= this.committed) return;
    const due =
      this.ready - this.committed >= SEGMENT_MAX_LINES ||
      this.held >= SEGMENT_MAX_CHARS ||
      Date.now() - this.lastFlush >= FLUSH_INTERVAL_MS;
    if (!due) return;
    this.flushRunning = true;
    this.lastFlush = Date.now();
    this.flush(this.ready).then(
      () => {
        this.flushRunning = false;
        this.maybeFlush();
      },
      (err: unknown) => this.options.onFlushError(err),
    );
  }

  /** No more background flushes: the attempt is ending, and {@link finish} writes what is left. */
  stop(): void {
    this.stopped = true;
  }

  /**
   * Flushes what is left and waits for every flush: `all` lines (those without a result are recorded as
   * skipped: they never ran), or only the finished prefix.
   */
  async finish(upTo: 'all' | 'finished'): Promise<void> {
    this.stop();
    await this.flushing.catch(() => undefined);
    await (upTo === 'all' ? this.flush(this.options.total, true) : this.flush(this.ready));
  }

  /** Writes positions [committed, upTo) as one segment; with `final`, lines without a result are skipped. */
  private flush(upTo: number, final = false): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (upTo <= this.committed) return;
      // A final segment may cover lines never read; it is the chunk's last, so its end is the chunk's.
      const endByte = this.ends[upTo - 1] ?? this.options.endByte;
      const { record, output, errors } = this.segment(this.committed, upTo, final, endByte);
      await writeSegment(this.options.store, this.options.batchId, this.options.chunkIndex, record, output, errors);
      for (const line of output) this.held -= line.length;
      for (const line of errors) this.held -= line.length;
      this.results.state.fill(FLUSHED, this.committed, upTo);
      this.results.lines.fill(undefined, this.committed, upTo);
      this.committed = upTo;
      this.progress = afterSegment(this.progress, record, endByte);
      this.options.onFlushed(this.progress, record);
    });
    return this.flushing;
  }

  private segment(from: number, to: number, final: boolean, endByte: number) {
    const { results, base } = this;
    const output: string[] = [];
    const errors: string[] = [];
    const skipped: number[] = [];
    const sum = new Float64Array(USAGE_FIELDS);
    for (let i = from; i < to; i++) {
      const state = results.state[i];
      if (state === PENDING) {
        if (!final) throw new Error(`Line ${base + i} has no result yet`);
        skipped.push(base + i);
      } else if (state === OUTPUT) {
        output.push(results.lines[i] as string);
        for (let k = 0; k < USAGE_FIELDS; k++) sum[k] += results.usage[i * USAGE_FIELDS + k];
      } else {
        errors.push(results.lines[i] as string);
      }
    }
    const record: SegmentRecord = {
      attempt: this.options.attempt,
      start: base + from,
      end: base + to,
      endByte,
      completed: output.length,
      failed: errors.length,
      usage: usageFromNumbers(sum, 0),
      skipped,
      hasOutput: output.length > 0,
      hasErrors: errors.length > 0,
    };
    return { record, output, errors };
  }
}
