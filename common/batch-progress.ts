/**
 * The progress of a running batch between chunk ends: what a chunk reports of itself while it runs, and how
 * a batch's counts are made of its finished chunks plus the running ones. Pure and workflow-safe: the
 * workflow (its query, memo and Web UI details) and the API (which adds the chunks' latest heartbeats) count
 * the same way.
 */
import type { BatchRecord, BatchUsage } from './batch';
import { addUsage, emptyUsage } from './batch';

/** The name of the signal a running chunk sends the workflow with its counts (never more than counts). */
export const CHUNK_PROGRESS_SIGNAL = 'chunkProgress';

/** What one chunk has done since it started (over all its attempts). */
export interface ChunkCounts {
  chunkIndex: number;
  completed: number;
  failed: number;
  usage: BatchUsage;
}

/** The answer of the `getProgress` query. */
export interface BatchProgress {
  /** The batch as the workflow keeps it: `request_counts` and `usage` of finished chunks only. */
  record: BatchRecord;
  /** The chunks whose results are in `record`. */
  finished: number[];
  /** The chunks still running, as they last reported themselves. */
  running: ChunkCounts[];
}

/**
 * Keeps the later of two reports of a chunk: attempts of a chunk resume from what the earlier ones stored,
 * so its counts only grow, and a report that says less is an older one arriving late.
 */
export function laterReport(a: ChunkCounts | undefined, b: ChunkCounts): ChunkCounts {
  if (a === undefined) return b;
  return b.completed + b.failed >= a.completed + a.failed ? b : a;
}

/**
 * The record with the running chunks' counts and usage added (a copy; `record` is not changed). Counts never
 * exceed the batch's total: a chunk's last report may arrive after a count that already holds it.
 */
export function withRunningChunks(record: BatchRecord, running: readonly ChunkCounts[]): BatchRecord {
  if (running.length === 0) return record;
  const { total } = record.batch.request_counts;
  let { completed, failed } = record.batch.request_counts;
  const usage = addUsage(emptyUsage(), record.batch.usage);
  for (const chunk of running) {
    completed += chunk.completed;
    failed += chunk.failed;
    addUsage(usage, chunk.usage);
  }
  completed = Math.min(completed, total);
  failed = Math.min(failed, total - completed);
  return { ...record, batch: { ...record.batch, request_counts: { total, completed, failed }, usage } };
}

/**
 * The running chunks of a {@link BatchProgress} with fresher reports merged in (the API's: the chunks' last
 * heartbeats): a chunk that finished is counted once, from its result; a running one by its latest report.
 */
export function mergeReports(progress: BatchProgress, fresher: readonly ChunkCounts[]): ChunkCounts[] {
  const finished = new Set(progress.finished);
  const latest = new Map<number, ChunkCounts>();
  for (const report of [...progress.running, ...fresher]) {
    if (!finished.has(report.chunkIndex)) {
      latest.set(report.chunkIndex, laterReport(latest.get(report.chunkIndex), report));
    }
  }
  return [...latest.values()];
}
