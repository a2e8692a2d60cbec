import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { BatchUsage } from '../common/batch';
import { emptyUsage } from '../common/batch';
import { FailureType } from '../common/failure-types';
import type { Logger } from '../telemetry/logger';
import type { ChunkProgress } from './batch-parts';
import { corruptState, recoverSegments } from './batch-parts';
import { ChunkAttempt } from './chunk-attempt';
import type { ChunkDeps } from './chunk-attempt';
import type { ChunkPlan } from './chunk-plan';
import { ProgressReporter } from './progress-reports';
import { RunningChunks } from './running-chunks';
import type { RunningChunk } from './running-chunks';

export interface ExecuteChunkInput {
  batchId: string;
  inputFileId: string;
  manifestKey: string;
  chunkIndex: number;
  /** The batch's deadline (epoch ms): nothing is sent after it. */
  deadlineMs: number;
  /** Who owns the batch, and their share against other tenants (absent in old histories: one tenant). */
  tenant?: string;
  tenantWeight?: number;
  /** The completion windows' lengths in seconds: the deadline classes (absent in old histories: one class). */
  deadlineClasses?: number[];
}

export interface ExecuteChunkOutput {
  completed: number;
  failed: number;
  usage: BatchUsage;
  /** False when the deadline stopped the chunk before every line ran. */
  ranAll: boolean;
}

type Deps = ChunkDeps;

/**
 * Builds `executeChunk`: sends the requests of one chunk upstream, at most the upstream's limit at a time,
 * and writes their result lines to storage in segments ({@link ChunkRun}). It heartbeats a watermark (every
 * line before it is stored), so a retry after a crash resumes there; lines past the watermark may be sent
 * again, which costs upstream work but never duplicates a result line.
 *
 * At the batch's deadline, or when the batch is cancelled, in-flight requests are aborted and everything
 * finished is stored; lines that did not run are recorded as skipped for finalize to report.
 */
export function createExecuteChunk(deps: Deps) {
  const running = new RunningChunks();
  return async function executeChunk(input: ExecuteChunkInput): Promise<ExecuteChunkOutput> {
    const place = await running.enter(input.batchId, input.chunkIndex);
    try {
      return await runChunk(deps, input, place);
    } finally {
      place.leave();
    }
  };
}

/** One attempt of the chunk: plan → recover → run → end by stop reason. */
async function runChunk(deps: Deps, input: ExecuteChunkInput, place: RunningChunk): Promise<ExecuteChunkOutput> {
  const ctx = Context.current();
  const { chunks } = await deps.manifests.get(input.manifestKey);
  const chunk = chunks[input.chunkIndex];
  if (chunk === undefined) throw corruptState(`Chunk ${input.chunkIndex} is not in the manifest`);
  const log = deps.logger.child({ batch_id: input.batchId, chunk: input.chunkIndex });
  const from = await startingPoint(deps, input, chunk, log);
  const output = (progress: ChunkProgress, ranAll: boolean): ExecuteChunkOutput => ({
    completed: progress.completed,
    failed: progress.failed,
    usage: progress.usage,
    ranAll,
  });
  if (from.nextLine >= chunk.firstLine + chunk.count) return output(from, true);
  if (Date.now() >= input.deadlineMs) return output(from, false);

  const reporter = new ProgressReporter(ctx, input.batchId, input.chunkIndex, chunks.length, log);
  const attempt = new ChunkAttempt(deps, input, chunk, from, ctx, (progress) => reporter.offer(progress));
  place.onSupersede(() => attempt.supersede());
  const { reason, error } = await attempt.run();
  deps.metrics.chunks.inc({ outcome: reason ?? 'completed' });
  if (reason === 'unreachable' || reason === 'error' || reason === 'superseded') {
    log.warn({ reason, err: error instanceof Error ? error.message : undefined }, 'chunk stopped');
  }
  await attempt.end(reason);
  switch (reason) {
    case null:
      return output(attempt.progress, true);
    case 'deadline':
      return output(attempt.progress, false);
    case 'cancelled':
      throw new CancelledFailure('The batch was cancelled');
    case 'unreachable':
      throw ApplicationFailure.create({
        message: 'The upstream refused connections; the chunk resumes from its watermark later',
        type: FailureType.UpstreamUnavailable,
      });
    case 'shutdown':
      // A failure, not a cancellation: nobody cancelled the activity, and a failed attempt is retried at
      // once by another worker, where an unsolicited cancellation would wait for the heartbeat timeout.
      throw ApplicationFailure.create({
        message: 'The worker is shutting down; the chunk resumes from its watermark',
        type: FailureType.WorkerShutdown,
      });
    case 'superseded':
      // Temporal no longer waits for this attempt's result: a later attempt runs the rest.
      throw ApplicationFailure.create({
        message: 'A later attempt of this chunk took over on this worker; this one stored what it finished',
        type: FailureType.ChunkSuperseded,
      });
    case 'error':
      throw error;
  }
}

/**
 * Where this attempt starts: the last heartbeat Temporal recorded, and past it every segment an earlier
 * attempt stored that follows on from it (a crash, or a completion Temporal never recorded).
 */
async function startingPoint(deps: Deps, input: ExecuteChunkInput, chunk: ChunkPlan, log: Logger) {
  const ctx = Context.current();
  const resumed = ctx.info.heartbeatDetails as ChunkProgress | undefined;
  if (resumed !== undefined || ctx.info.attempt > 1) {
    deps.metrics.chunkRetries.inc();
    log.info({ attempt: ctx.info.attempt, from_line: resumed?.nextLine ?? chunk.firstLine }, 'chunk resumed');
  }
  const from: ChunkProgress = resumed ?? {
    nextLine: chunk.firstLine,
    nextByte: chunk.start,
    completed: 0,
    failed: 0,
    usage: emptyUsage(),
  };
  return recoverSegments(deps.store, input.batchId, input.chunkIndex, from, chunk.firstLine + chunk.count);
}
