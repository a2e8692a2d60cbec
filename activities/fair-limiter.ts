/** Releases a slot taken from a {@link FairLimiter}. Safe to call more than once. */
export type Release = () => void;

interface Waiter {
  grant: (release: Release) => void;
}

/**
 * A counting semaphore shared by every batch a worker runs. Waiters queue per key (the batch id) and slots
 * are granted round-robin across keys, so a batch that queued thousands of requests cannot starve one
 * that arrived later.
 */
export class FairLimiter {
  private active = 0;
  private readonly queues = new Map<string, Waiter[]>();

  constructor(private limit: number) {}

  /** Requests in flight now. */
  get inFlight(): number {
    return this.active;
  }

  /** Slots granted at most now. */
  get currentLimit(): number {
    return this.limit;
  }

  /** Changes the number of slots; lowering it lets requests in flight finish, raising it wakes waiters. */
  setLimit(limit: number): void {
    this.limit = Math.max(1, Math.floor(limit));
    this.pump();
  }

  /** Waits for a slot. Rejects with the signal's reason if it aborts first. */
  acquire(key: string, signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.active < this.limit && this.queues.size === 0) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        grant: (release) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
      };
      const onAbort = () => {
        const queue = this.queues.get(key);
        const i = queue ? queue.indexOf(waiter) : -1;
        if (queue && i >= 0) {
          queue.splice(i, 1);
          if (queue.length === 0) this.queues.delete(key);
        }
        reject(abortReason(signal as AbortSignal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const queue = this.queues.get(key);
      if (queue) queue.push(waiter);
      else this.queues.set(key, [waiter]);
    });
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.pump();
    };
  }

  private pump(): void {
    while (this.active < this.limit && this.queues.size > 0) {
      // Map iteration follows insertion order; re-inserting a key moves it to the back: round-robin.
      const [key, queue] = this.queues.entries().next().value as [string, Waiter[]];
      const waiter = queue.shift() as Waiter;
      this.queues.delete(key);
      if (queue.length > 0) this.queues.set(key, queue);
      this.active++;
      waiter.grant(this.releaser());
    }
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('Aborted while waiting for a slot');
}
