import type { Context } from '@temporalio/activity';
import type { ExecuteChunkInput } from './execute-chunk';
import type { FileStore } from '../storage';
import { batchRequestIds } from '../storage';
import type { Logger } from '../telemetry/logger';
import type { WorkerMetrics } from '../telemetry/metrics';
import type { Sender, UpstreamClient } from '../upstream/client';
import { Stopper } from '../upstream/stopper';
import type { ChunkProgress, ManifestCache } from './batch-parts';
import { corruptState, openInputRange } from './batch-parts';
import type { ChunkPlan } from './chunk-plan';
import { ChunkRun, ERROR, OUTPUT } from './chunk-run';
import { scanRequestLine } from './jsonl/json-scan';
import { readLineBatches } from './jsonl/line-reader';
import type { RawLine } from './jsonl/line-reader';
import { errorLine, readUpstreamBody, responseLine } from './jsonl/result-lines';
import { LineSource } from './line-source';

/** What an attempt needs from the worker. */
export interface ChunkDeps {
  store: FileStore;
  upstream: UpstreamClient;
  manifests: ManifestCache;
  logger: Logger;
  metrics: WorkerMetrics;
}

/** What a chunk activity is asked to do (the activity's input). */
export type ChunkTask = Pick<
  ExecuteChunkInput,
  'batchId' | 'inputFileId' | 'chunkIndex' | 'deadlineMs' | 'tenant' | 'tenantWeight' | 'deadlineClasses'
>;

/** Why an attempt stopped before every line ran. */
export type StopReason = 'deadline' | 'cancelled' | 'shutdown' | 'superseded' | 'unreachable' | 'error';

/** Heartbeats go out on a timer too, so a chunk waiting on slow requests is not taken for dead. */
const HEARTBEAT_INTERVAL_MS = 500;
/** setTimeout's longest delay (about 24.8 days); a longer window is cut short by the workflow's timer anyway. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** One attempt at the lines of a chunk from a starting point: its sending loops, stop signals and results. */
export class ChunkAttempt {
  private readonly stopper = new Stopper();
  private readonly results: ChunkRun;
  private readonly source: LineSource;
  /** The first line of this attempt, and how many lines are left from it to the chunk's end. */
  private readonly base: number;
  private readonly total: number;
  private readonly requestId: (line: number) => string;
  private reason: StopReason | null = null;
  private error: unknown = null;
  private taken = 0;

  constructor(
    private readonly deps: ChunkDeps,
    private readonly input: ChunkTask,
    chunk: ChunkPlan,
    from: ChunkProgress,
    private readonly ctx: Context,
    /** Told the new checkpoint after every flush, besides the heartbeat. */
    onProgress: (progress: ChunkProgress) => void = () => undefined,
  ) {
    this.base = from.nextLine;
    this.total = chunk.firstLine + chunk.count - from.nextLine;
    this.requestId = batchRequestIds(input.batchId);
    // Lines are read as the loops take them, a stream piece at a time, never the whole chunk.
    this.source = new LineSource(requestLines(deps.store, input.inputFileId, from.nextByte, chunk.end));
    this.results = new ChunkRun({
      store: deps.store,
      batchId: input.batchId,
      chunkIndex: input.chunkIndex,
      attempt: ctx.info.attempt,
      from,
      total: this.total,
      endByte: chunk.end,
      onFlushed: (progress, segment) => {
        deps.metrics.requests.inc({ outcome: 'completed' }, segment.completed);
        deps.metrics.requests.inc({ outcome: 'failed' }, segment.failed);
        this.beat(progress);
        onProgress(progress);
      },
      onFlushError: (err) => this.stopWith('error', err),
    });
  }

  get progress(): ChunkProgress {
    return this.results.progress;
  }

  /** Sends every line (or until stopped); resolves to why it stopped, null when every line ran. */
  async run(): Promise<{ reason: StopReason | null; error: unknown }> {
    const { ctx, input } = this;
    const onCancel = () => this.stopWith(ctx.cancellationDetails?.cancelRequested ? 'cancelled' : 'shutdown');
    ctx.cancellationSignal.addEventListener('abort', onCancel);
    // A cancel or shutdown that came while the chunk read its manifest and segments is not an event now.
    if (ctx.cancellationSignal.aborted) onCancel();
    const deadline = setTimeout(() => this.stopWith('deadline'), Math.min(MAX_TIMER_MS, input.deadlineMs - Date.now()));
    // The timer also flushes what finished while the rest of the chunk waits on slow requests.
    const heartbeat = setInterval(() => {
      this.results.maybeFlush();
      this.beat(this.results.progress);
    }, HEARTBEAT_INTERVAL_MS);
    this.beat(this.results.progress);
    try {
      await this.sendAll();
    } finally {
      clearTimeout(deadline);
      clearInterval(heartbeat);
      ctx.cancellationSignal.removeEventListener('abort', onCancel);
      await this.source.close();
    }
    if (this.reason === null && this.taken !== this.total) {
      throw corruptState(
        `Chunk ${input.chunkIndex} holds ${this.taken} lines from line ${this.base}, the manifest says ${this.total}`,
      );
    }
    return { reason: this.reason, error: this.error };
  }

  /** Stores what is left: every line when the chunk ran or was stopped for good, else the finished ones. */
  async end(reason: StopReason | null): Promise<void> {
    if (reason === null || reason === 'deadline' || reason === 'cancelled') await this.results.finish('all');
    else if (reason === 'error') await this.results.finish('finished').catch(() => undefined);
    else await this.results.finish('finished');
  }

  /** Stops for a later attempt of the chunk that took over on this worker (see running-chunks.ts). */
  supersede(): void {
    this.stopWith('superseded');
  }

  /**
   * Heartbeats the checkpoint, naming the chunk: the API reads the counts of a running chunk from its last
   * heartbeat (a retry resumes from it; the extra field is ignored there).
   */
  private beat(progress: ChunkProgress): void {
    const details: ChunkProgress & { chunkIndex: number } = { ...progress, chunkIndex: this.input.chunkIndex };
    this.ctx.heartbeat(details);
  }

  private stopWith(reason: StopReason, error: unknown = null): void {
    if (this.reason === null) {
      this.reason = reason;
      this.error = error;
    }
    this.results.stop();
    this.stopper.stop(new Error(`Chunk stopped: ${reason}`));
  }

  /**
   * Loops take lines in order, so finished lines form a prefix that flushes early. A loop holds a slot of
   * the upstream's concurrency before it reads a line, and keeps it while no other batch and no earlier
   * chunk waits. A chunk has at most one loop waiting in the limiter's queue: the loop that gets a slot
   * starts the next, up to as many as the upstream may serve at once. So a chunk that waits for its turn
   * holds one place in line, not a loop, a promise and a line per slot.
   */
  private sendAll(): Promise<void> {
    const maxLoops = Math.min(this.total, this.deps.upstream.maxConcurrency);
    let loops = 0;
    let queued = false;
    let linesLeft = true;
    return new Promise<void>((allEnded) => {
      const start = (): void => {
        loops++;
        void loop()
          .catch((err: unknown) => this.stopWith('error', err))
          .finally(() => {
            if (--loops === 0) allEnded();
          });
      };
      const loop = async (): Promise<void> => {
        let model: string | null = null;
        const sender = this.deps.upstream.sender({
          fairnessKey: this.input.batchId,
          priority: this.input.chunkIndex,
          tenant: this.input.tenant,
          tenantWeight: this.input.tenantWeight,
          deadlineClasses: this.input.deadlineClasses,
          deadlineMs: this.input.deadlineMs,
          stopper: this.stopper,
        });
        try {
          while (this.reason === null && linesLeft) {
            if (!sender.tryReady(model)) {
              if (queued) return;
              queued = true;
              const got = await sender.waitReady(model);
              queued = false;
              if (!got) return;
            }
            if (loops < maxLoops && !queued) start();
            let item = this.source.take();
            while (item === undefined && (await this.source.more())) item = this.source.take();
            if (item === undefined) {
              linesLeft = false;
              return;
            }
            const position = this.taken++;
            this.results.taken(position, item.end);
            model = await this.sendLine(position, item.text, sender).catch((err: unknown) => {
              this.stopWith('error', err);
              return model;
            });
          }
        } finally {
          sender.close();
        }
      };
      start();
    });
  }

  /** Sends the line at `position` and records its result line; resolves to the line's model. */
  private async sendLine(position: number, text: string, sender: Sender): Promise<string> {
    const request = scanRequestLine(text);
    const id = this.requestId(this.base + position);
    const res = await sender.send(request.model, request.url, request.bodyText);
    switch (res.kind) {
      case 'aborted':
        break;
      case 'unreachable':
        this.stopWith('unreachable');
        break;
      case 'failure':
        this.results.record(position, ERROR, errorLine(id, request.customId, res.code, res.message));
        break;
      case 'response': {
        const body = readUpstreamBody(res.bodyText, res.status);
        const line = responseLine(id, request.customId, res.status, res.requestId, body.bodyJson);
        const ok = body.json && res.status >= 200 && res.status < 300;
        this.results.record(position, ok ? OUTPUT : ERROR, line, body.usage);
        break;
      }
    }
    return request.model;
  }
}

/** The lines of a chunk from `fromByte` on, read lazily, a stream piece at a time. */
async function* requestLines(
  store: FileStore,
  fileId: string,
  fromByte: number,
  end: number,
): AsyncGenerator<RawLine[]> {
  const stream = await openInputRange(store, fileId, fromByte, end);
  try {
    yield* readLineBatches(stream, fromByte);
  } finally {
    stream.destroy();
  }
}
