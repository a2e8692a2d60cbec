import { setCurrentDetails } from '@temporalio/workflow';
import type { BatchRecord } from '../common/batch';
import type { BatchProgress, ChunkCounts } from '../common/batch-progress';
import { laterReport, withRunningChunks } from '../common/batch-progress';

/**
 * What a batch's workflow knows of its chunks between their ends: which finished (their results are in the
 * record) and what the running ones last reported (the `chunkProgress` signal: counts only, sent with
 * growing spacing by each chunk attempt). The workflow's record keeps finished chunks only, as before; the
 * view adds the running ones, for the query, the memo and the current details the Web UI shows.
 */
export class ChunkBoard {
  private readonly finished = new Set<number>();
  private readonly running = new Map<number, ChunkCounts>();

  constructor(private readonly state: BatchRecord) {}

  /** A running chunk's report; one about a chunk whose result is in already is late, and ignored. */
  report(update: ChunkCounts): boolean {
    if (this.finished.has(update.chunkIndex)) return false;
    const kept = laterReport(this.running.get(update.chunkIndex), update);
    this.running.set(update.chunkIndex, kept);
    return kept === update;
  }

  /** The chunk's result is in the record now. */
  finish(chunkIndex: number): void {
    this.finished.add(chunkIndex);
    this.running.delete(chunkIndex);
  }

  /** The batch is final: its counts are finalize's, from what the chunks stored. */
  close(): void {
    this.running.clear();
  }

  /** The record with the running chunks counted. */
  view(): BatchRecord {
    return withRunningChunks(this.state, [...this.running.values()]);
  }

  progress(): BatchProgress {
    return { record: this.state, finished: [...this.finished], running: [...this.running.values()] };
  }

  /** The memo's summary of the batch (readable with `describe`, without a worker). */
  memo() {
    const { batch } = this.view();
    return {
      status: batch.status,
      request_counts: batch.request_counts,
      output_file_id: batch.output_file_id,
      error_file_id: batch.error_file_id,
    };
  }

  /** Shows the batch as it stands in the Web UI's "current details" (user metadata: nothing enters history). */
  showDetails(): void {
    setCurrentDetails(currentDetails(this.view()));
  }
}

/** The current details of a batch, in the Web UI's markdown: status, counts, usage, deadline. */
export function currentDetails({ batch }: BatchRecord): string {
  const { total, completed, failed } = batch.request_counts;
  const lines = [`**${batch.status}**`];
  if (total > 0) {
    const done = completed + failed;
    lines.push(
      `${n(done)} of ${n(total)} requests done (${percent(done, total)}): ${n(completed)} completed, ${n(failed)} failed`,
    );
  }
  if (batch.usage.total_tokens > 0) {
    lines.push(
      `${n(batch.usage.total_tokens)} tokens (${n(batch.usage.input_tokens)} in, ${n(batch.usage.output_tokens)} out)`,
    );
  }
  if (batch.expires_at !== null) lines.push(`Deadline: ${new Date(batch.expires_at * 1000).toISOString()}`);
  if (batch.errors !== null && batch.errors.data.length > 0) {
    lines.push(`Errors: ${batch.errors.data.length}, the first: ${batch.errors.data[0].message}`);
  }
  return lines.join('\n\n');
}

function n(value: number): string {
  return value.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function percent(part: number, whole: number): string {
  return `${Math.floor((100 * part) / whole)}%`;
}

/** The Web UI's summary of a chunk activity: "chunk 3 of 16: requests 20,001–30,000". */
export function chunkSummary(
  validation: { total: number; chunkCount: number; chunkFirstLines?: number[] },
  chunkIndex: number,
): string {
  const name = `chunk ${chunkIndex + 1} of ${validation.chunkCount}`;
  const first = validation.chunkFirstLines?.[chunkIndex];
  if (first === undefined) return name;
  const end = validation.chunkFirstLines?.[chunkIndex + 1] ?? validation.total;
  return `${name}: requests ${n(first + 1)}–${n(end)}`;
}
