/**
 * The chunk attempts running in this worker, one per chunk. Temporal starts a new attempt of a chunk when
 * it stops hearing the current one's heartbeats — also when that attempt still runs and it was Temporal that
 * could not be reached (a restart of the server). The old attempt learns it was timed out only at its next
 * heartbeat that gets through, seconds later; until then both would send the same lines. So a new attempt
 * that lands on the worker running the old one stops the old one, waits until it has stored what it
 * finished, and resumes after it. (An old attempt on another worker still stops at its next heartbeat.)
 */
export class RunningChunks {
  private readonly running = new Map<string, RunningChunk>();

  /** Registers an attempt of a chunk, after stopping an earlier one running here and waiting for its end. */
  async enter(batchId: string, chunkIndex: number): Promise<RunningChunk> {
    const key = `${batchId}/${chunkIndex}`;
    const earlier = this.running.get(key);
    const mine = new RunningChunk(() => {
      if (this.running.get(key) === mine) this.running.delete(key);
    });
    this.running.set(key, mine);
    if (earlier !== undefined) {
      earlier.supersede();
      await earlier.ended;
    }
    return mine;
  }
}

/** One attempt's place in {@link RunningChunks}. */
export class RunningChunk {
  readonly ended: Promise<void>;
  private superseded = false;
  private stop: (() => void) | null = null;
  private markEnded: () => void = () => undefined;

  constructor(private readonly remove: () => void) {
    this.ended = new Promise<void>((resolve) => {
      this.markEnded = resolve;
    });
  }

  /** Calls `stop` when a later attempt takes over (at once if one already has). */
  onSupersede(stop: () => void): void {
    this.stop = stop;
    if (this.superseded) stop();
  }

  supersede(): void {
    if (this.superseded) return;
    this.superseded = true;
    this.stop?.();
  }

  /** The attempt has ended: what it finished is stored. */
  leave(): void {
    this.remove();
    this.markEnded();
  }
}
