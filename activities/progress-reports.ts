import type { Context } from '@temporalio/activity';
import type { ChunkCounts } from '../common/batch-progress';
import { CHUNK_PROGRESS_SIGNAL } from '../common/batch-progress';
import type { Logger } from '../telemetry/logger';
import type { ChunkProgress } from './batch-parts';

/** The first report of a chunk attempt goes this long after it starts; each gap after is twice the last… */
export const FIRST_REPORT_MS = 15_000;
/** …up to this much for every chunk of the batch: the batch as a whole reports about every 10 minutes. */
export const REPORT_GAP_PER_CHUNK_MS = 10 * 60_000;

/**
 * When a chunk attempt tells its workflow its counts (the `chunkProgress` signal), so that the workflow's
 * query, memo and Web UI details move while a long chunk runs. Each report is a history event (and a
 * workflow task), so they are spaced out: 15 s after the attempt starts, then 30 s, 1 min, 2 min… up to
 * 10 minutes times the batch's chunk count, and only when the counts changed. A batch of 16 chunks that runs
 * for a day adds ~200 reports; one that ends within minutes, a handful. (The API does not wait for these:
 * it reads the chunks' heartbeats.)
 */
export class ReportSchedule {
  private gapMs = FIRST_REPORT_MS;
  private dueAt: number;
  private last = -1;

  constructor(
    startedAt: number,
    private readonly maxGapMs: number,
  ) {
    this.dueAt = startedAt + FIRST_REPORT_MS;
  }

  /** Whether counts that total `done` should be reported at `now`; if so, the next report is scheduled. */
  take(done: number, now: number): boolean {
    if (now < this.dueAt || done === this.last) return false;
    this.last = done;
    this.gapMs = Math.min(this.gapMs * 2, this.maxGapMs);
    this.dueAt = now + this.gapMs;
    return true;
  }
}

/** Sends a chunk's counts to its workflow when the {@link ReportSchedule} says so; a failure is only logged. */
export class ProgressReporter {
  private readonly schedule: ReportSchedule;

  constructor(
    private readonly ctx: Context,
    private readonly batchId: string,
    private readonly chunkIndex: number,
    chunkCount: number,
    private readonly log: Logger,
  ) {
    this.schedule = new ReportSchedule(Date.now(), REPORT_GAP_PER_CHUNK_MS * Math.max(1, chunkCount));
  }

  offer(progress: ChunkProgress): void {
    if (!this.schedule.take(progress.completed + progress.failed, Date.now())) return;
    const report: ChunkCounts = {
      chunkIndex: this.chunkIndex,
      completed: progress.completed,
      failed: progress.failed,
      usage: progress.usage,
    };
    // A report only moves what operators see; the chunk goes on whatever becomes of it.
    void this.send(report).catch((err: unknown) =>
      this.log.debug({ err: err instanceof Error ? err.message : String(err) }, 'progress report not sent'),
    );
  }

  private async send(report: ChunkCounts): Promise<void> {
    // The worker's own client (a test's MockActivityEnvironment may have none: then this throws, and is logged).
    await this.ctx.client.workflow.getHandle(this.batchId).signal(CHUNK_PROGRESS_SIGNAL, report);
  }
}
