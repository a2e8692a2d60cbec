import type { Stopper } from './stopper';

/** Releases a slot taken from a {@link FairLimiter}. Safe to call more than once. */
export type Release = () => void;

interface Waiter {
  priority: number;
  seq: number;
  /** Set when the waiter gave up (its signal aborted): it is skipped, not searched for and removed. */
  gone: boolean;
  grant: (release: Release) => void;
}

/** The waiters of one key, lowest priority first, then first come first served. */
class WaiterHeap {
  private readonly items: Waiter[] = [];
  /** Waiters that have not given up. */
  live = 0;

  push(w: Waiter): void {
    const a = this.items;
    a.push(w);
    this.live++;
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }

  /** The first waiter that has not given up, or undefined; it stays in the heap. */
  peek(): Waiter | undefined {
    while (this.items.length > 0 && this.items[0].gone) this.removeTop();
    return this.items[0];
  }

  /** The first waiter that has not given up, or undefined. */
  pop(): Waiter | undefined {
    while (this.items.length > 0) {
      const top = this.removeTop();
      if (!top.gone) {
        this.live--;
        return top;
      }
    }
    return undefined;
  }

  private removeTop(): Waiter {
    const a = this.items;
    const top = a[0];
    const last = a.pop() as Waiter;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l], a[m])) m = l;
        if (r < a.length && before(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Waiter, b: Waiter): boolean {
  return a.priority < b.priority || (a.priority === b.priority && a.seq < b.seq);
}

/**
 * A counting semaphore shared by every batch a worker runs. Waiters queue per key (the batch id) and slots
 * are granted round-robin across keys, so a batch that queued thousands of requests cannot starve one that
 * arrived later. Within a key, the lowest priority (the chunk index) goes first: a batch finishes its
 * chunks one after another rather than all at once at the end, so its progress moves steadily.
 */
export class FairLimiter {
  private active = 0;
  private seq = 0;
  private readonly queues = new Map<string, WaiterHeap>();

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

  /** A slot at once if one is free and nobody waits; null otherwise (no promise on the hot path). */
  tryAcquire(): Release | null {
    if (this.active >= this.limit || this.queues.size > 0) return null;
    this.active++;
    return this.releaser();
  }

  /**
   * Whether the holder of a slot may keep it for its next request instead of releasing it: while the limit
   * allows, and nobody waits who would get the slot first: another key (their turn, round-robin), or a
   * waiter of the same key at the same or a lower priority. Keeping skips a release, a queue entry and a
   * promise per request.
   */
  mayKeep(key: string, priority = 0): boolean {
    if (this.active > this.limit) return false;
    if (this.queues.size === 0) return true;
    if (this.queues.size > 1) return false;
    const top = this.queues.get(key)?.peek();
    return top !== undefined && top.priority > priority;
  }

  /** Waits for a slot. Rejects with the stop reason if stopped first. */
  acquire(key: string, stopper?: Stopper, priority = 0): Promise<Release> {
    if (stopper?.stopped) return Promise.reject(stopReason(stopper));
    if (this.active < this.limit && this.queues.size === 0) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        priority,
        seq: this.seq++,
        gone: false,
        grant: (release) => {
          leave();
          resolve(release);
        },
      };
      const leave =
        stopper?.onStop(() => {
          waiter.gone = true;
          const heap = this.queues.get(key);
          if (heap !== undefined && --heap.live === 0) this.queues.delete(key);
          reject(stopReason(stopper));
        }) ?? (() => undefined);
      let heap = this.queues.get(key);
      if (heap === undefined) {
        heap = new WaiterHeap();
        this.queues.set(key, heap);
      }
      heap.push(waiter);
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
      const [key, heap] = this.queues.entries().next().value as [string, WaiterHeap];
      const waiter = heap.pop();
      this.queues.delete(key);
      if (heap.live > 0) this.queues.set(key, heap);
      if (waiter === undefined) continue;
      this.active++;
      waiter.grant(this.releaser());
    }
  }
}

function stopReason(stopper: Stopper): Error {
  return stopper.reason ?? new Error('Stopped while waiting for a slot');
}
