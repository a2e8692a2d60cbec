/** How an input file is cut into chunk activities: pure, from the lines' start offsets. */

/** One chunk of an input file: request lines [firstLine, firstLine + count) in bytes [start, end). */
export interface ChunkPlan {
  index: number;
  start: number;
  end: number;
  /** 0-based index of the chunk's first request among all request lines (blank lines are not requests). */
  firstLine: number;
  count: number;
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
