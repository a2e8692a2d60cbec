import type { BatchUsage } from '../common/batch';
import type { FileStore } from '../storage';
import { readJson } from '../storage';

/** One chunk of an input file: request lines [firstLine, firstLine + count) in bytes [start, end). */
export interface ChunkPlan {
  index: number;
  start: number;
  end: number;
  /** 0-based index of the chunk's first request among all request lines (blank lines are not requests). */
  firstLine: number;
  count: number;
}

/** Written by validation, read by every chunk and by finalize: how the input file is cut. */
export interface Manifest {
  version: 1;
  inputFileId: string;
  total: number;
  chunks: ChunkPlan[];
}

/**
 * The record of one flushed segment of a chunk, written after its `.out.jsonl` and `.err.jsonl`: a segment
 * exists exactly when this record does. It covers request lines [start, end); each is in the output part,
 * the error part, or listed in `skipped` (it never ran: the batch stopped first).
 */
export interface SegmentRecord {
  start: number;
  end: number;
  /** Byte offset in the input file just past the segment's last line (absent in older records). */
  endByte?: number;
  completed: number;
  failed: number;
  usage: BatchUsage;
  skipped: number[];
  hasOutput: boolean;
  hasErrors: boolean;
}

export interface ChunkSizing {
  /** Fewest lines in a chunk, unless chunkMaxLines is lower (absent in old histories: 1). */
  chunkMinLines?: number;
  chunkMaxLines: number;
  chunkMaxBytes: number;
  chunkWindow: number;
}

/**
 * Cuts request lines (given by their start offsets) into chunks: twice as many as the window runs at once,
 * each within the line and byte limits (a single line larger than the byte limit is a chunk of its own),
 * and none smaller than `chunkMinLines` unless `chunkMaxLines` says so: a small batch is one or two
 * activities, not one per handful of lines.
 *
 * Few, large chunks are cheap: each chunk activity costs the Temporal server and the worker some tens of
 * milliseconds of CPU (scheduling, dispatch, workflow task, completion), which on a busy machine comes out
 * of the requests' time (`npm run bench`: 32 chunks for 50,000 requests took ~0.7 CPU-s more than 8). On one
 * worker the window alone would do: one chunk can use all of the upstream's concurrency, and the chunks in
 * flight share it in chunk order. The second wave is for several workers: the first `window` chunks are
 * scheduled at once and mostly go to the worker whose pollers are already busy; the rest go to whichever
 * worker is free, so another worker gets a share of the batch. A chunk's memory grows only by ~60 bytes of
 * bookkeeping per line (lines are read as they are sent), and a retry resumes from its last stored segment.
 */
export function planChunks(starts: ArrayLike<number>, totalBytes: number, sizing: ChunkSizing): ChunkPlan[] {
  const total = starts.length;
  const spread = Math.max(sizing.chunkMinLines ?? 1, Math.ceil(total / (sizing.chunkWindow * 2)));
  const linesPerChunk = Math.max(1, Math.min(sizing.chunkMaxLines, spread));
  const chunks: ChunkPlan[] = [];
  let first = 0;
  while (first < total) {
    let last = first + 1; // exclusive
    while (
      last < total &&
      last - first < linesPerChunk &&
      (last + 1 < total ? starts[last + 1] : totalBytes) - starts[first] <= sizing.chunkMaxBytes
    ) {
      last++;
    }
    chunks.push({
      index: chunks.length,
      start: starts[first],
      end: last < total ? starts[last] : totalBytes,
      firstLine: first,
      count: last - first,
    });
    first = last;
  }
  return chunks;
}

/** Manifests are small and read by every chunk of a batch: keep the recent ones in memory. */
export class ManifestCache {
  private readonly entries = new Map<string, Promise<Manifest>>();

  constructor(
    private readonly store: FileStore,
    private readonly capacity = 64,
  ) {}

  get(key: string): Promise<Manifest> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const loading = readJson<Manifest>(this.store, key).then((m) => {
      if (m === null) throw new Error(`Manifest '${key}' is missing`);
      return m;
    });
    loading.catch(() => this.entries.delete(key));
    this.entries.set(key, loading);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    return loading;
  }
}
