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
  completed: number;
  failed: number;
  usage: BatchUsage;
  skipped: number[];
  hasOutput: boolean;
  hasErrors: boolean;
}

export interface ChunkSizing {
  chunkMaxLines: number;
  chunkMaxBytes: number;
  chunkWindow: number;
}

/**
 * Cuts request lines (given by their start offsets) into chunks. Small batches get small chunks, so that
 * progress moves in small steps and several chunks run at once; no chunk exceeds the line or byte limits
 * (a single line larger than the byte limit is a chunk of its own).
 */
export function planChunks(starts: ArrayLike<number>, totalBytes: number, sizing: ChunkSizing): ChunkPlan[] {
  const total = starts.length;
  const linesPerChunk = Math.max(1, Math.min(sizing.chunkMaxLines, Math.ceil(total / (sizing.chunkWindow * 4))));
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
