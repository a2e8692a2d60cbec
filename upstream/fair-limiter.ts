import { deadlineClass } from '../common/completion-windows';
import type { Stopper } from './stopper';
import type { Waiter } from './waiter-heap';
import { WaiterHeap } from './waiter-heap';

/** Releases a slot taken from a {@link FairLimiter}. Safe to call more than once. */
export type Release = () => void;

/** Who asks for a slot: a chunk of a batch of a tenant, with the batch's deadline. */
export interface Claimant {
  batch: string;
  /** Among the chunks of one batch, lower goes first (the chunk index). */
  chunk?: number;
  /** The tenant (absent: all claimants are one tenant). */
  tenant?: string;
  /** The tenant's share against other tenants (absent: 1). */
  weight?: number;
  /** The batch's deadline (epoch ms) and the deadline classes (window lengths, s): earliest class first. */
  deadlineMs?: number;
  deadlineClasses?: readonly number[];
}

/** Where the next slot goes: the head waiter of a batch of a tenant of a deadline class. */
interface Choice {
  cls: number;
  tenant: string;
  batch: string;
  heap: WaiterHeap;
  waiter: Waiter;
}

/**
 * A counting semaphore shared by every batch a worker sends to one upstream. Who gets a free slot:
 * 1. the earliest deadline class first (a `1h` batch before a `24h` one; see `common/completion-windows`);
 * 2. within a class, the tenant that has had the least for its weight (stride scheduling: each slot moves
 *    the tenant's pass on by 1 / weight), so tenants share in proportion to their weights;
 * 3. within a tenant, its batches in turn (the same, weight 1 per batch);
 * 4. within a batch, the lowest chunk first, so a batch finishes chunks one after another.
 * A tenant or batch that starts waiting joins at the lowest pass of those waiting: no credit for absence.
 */
export class FairLimiter {
  private active = 0;
  private seq = 0;
  /** Waiting claimants by deadline class, tenant and batch; a heap of chunks per batch. */
  private readonly queues = new Map<number, Map<string, Map<string, WaiterHeap>>>();
  private readonly tenantPass = new Map<string, number>();
  private readonly tenantWeight = new Map<string, number>();
  private readonly batchPass = new Map<string, number>();
  /** The deadline class each waiting batch joined with. */
  private readonly batchClass = new Map<string, number>();

  constructor(private limit: number) {}

  /** Requests in flight now. */
  get inFlight(): number {
    return this.active;
  }

  /** Slots granted at most now. */
  get currentLimit(): number {
    return this.limit;
  }

  /** Whether anybody waits for a slot. */
  get hasWaiters(): boolean {
    return this.queues.size > 0;
  }

  /**
   * Changes the number of slots; lowering it lets requests in flight finish, raising it wakes waiters. 0
   * stops new requests (a worker whose share of the upstream is 0 until the others give some up).
   */
  setLimit(limit: number): void {
    this.limit = Math.max(0, Math.floor(limit));
    this.pump();
  }

  /** A slot at once if one is free and nobody waits; null otherwise (no promise on the hot path). */
  tryAcquire(claimant?: Claimant | string): Release | null {
    if (this.active >= this.limit || this.queues.size > 0) return null;
    this.active++;
    if (claimant !== undefined) this.served(asClaimant(claimant));
    return this.releaser();
  }

  /**
   * Whether the holder of a slot may keep it for its next request instead of releasing it: while the limit
   * allows, and no waiter would get the slot first by the order above. Keeping skips a release, a queue
   * entry and a promise per request; it counts as a slot given.
   */
  mayKeep(claimant: Claimant | string, chunk = 0): boolean {
    const holder = asClaimant(claimant, chunk);
    if (this.active > this.limit) return false;
    const best = this.best();
    if (best !== null && !this.goesFirst(holder, best)) return false;
    this.served(holder);
    return true;
  }

  /** Waits for a slot. Rejects with the stop reason if stopped first. */
  acquire(claimant: Claimant | string, stopper?: Stopper, chunk = 0): Promise<Release> {
    const who = asClaimant(claimant, chunk);
    if (stopper?.stopped) return Promise.reject(stopReason(stopper));
    if (this.active < this.limit && this.queues.size === 0) {
      this.active++;
      this.served(who);
      return Promise.resolve(this.releaser());
    }
    return new Promise<Release>((resolve, reject) => {
      const heap = this.heapFor(who);
      const waiter: Waiter = {
        priority: who.chunk ?? 0,
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
          if (--heap.live === 0) this.drop(who.batch, who.tenant ?? '');
          reject(stopReason(stopper));
        }) ?? (() => undefined);
      heap.push(waiter);
    });
  }

  /** Whether a holder would be served before the best waiter (a tie goes to the waiter: it waited). */
  private goesFirst(holder: Claimant, best: Choice): boolean {
    const cls = this.batchClass.get(holder.batch) ?? classOf(holder);
    if (cls !== best.cls) return cls < best.cls;
    const tenant = this.pass(this.tenantPass, holder.tenant ?? '') - this.pass(this.tenantPass, best.tenant);
    if (tenant !== 0) return tenant < 0;
    const batch = this.pass(this.batchPass, holder.batch) - this.pass(this.batchPass, best.batch);
    if (batch !== 0) return batch < 0;
    return (holder.chunk ?? 0) < best.waiter.priority;
  }

  /** The heap of the claimant's batch, made if it has none. */
  private heapFor(c: Claimant): WaiterHeap {
    const tenant = c.tenant ?? '';
    this.tenantWeight.set(tenant, Math.max(0.001, c.weight ?? 1));
    let cls = this.batchClass.get(c.batch);
    if (cls === undefined) {
      cls = classOf(c);
      this.batchClass.set(c.batch, cls);
    }
    let tenants = this.queues.get(cls);
    if (tenants === undefined) this.queues.set(cls, (tenants = new Map<string, Map<string, WaiterHeap>>()));
    let batches = tenants.get(tenant);
    if (batches === undefined) {
      this.tenantPass.set(tenant, Math.max(this.pass(this.tenantPass, tenant), this.minPass(tenants, this.tenantPass)));
      tenants.set(tenant, (batches = new Map<string, WaiterHeap>()));
    }
    let heap = batches.get(c.batch);
    if (heap === undefined) {
      this.batchPass.set(c.batch, Math.max(this.pass(this.batchPass, c.batch), this.minPass(batches, this.batchPass)));
      batches.set(c.batch, (heap = new WaiterHeap()));
    }
    return heap;
  }

  /** The lowest pass among `keys`; 0 when there are none. */
  private minPass(keys: Map<string, unknown>, passes: Map<string, number>): number {
    let min = Infinity;
    for (const key of keys.keys()) min = Math.min(min, this.pass(passes, key));
    return min === Infinity ? 0 : min;
  }

  /** Forgets a batch with no live waiters (and its tenant and class when they have none left). */
  private drop(batch: string, tenant: string): void {
    const cls = this.batchClass.get(batch);
    if (cls === undefined) return;
    const tenants = this.queues.get(cls);
    const batches = tenants?.get(tenant);
    batches?.delete(batch);
    if (batches?.size === 0) tenants?.delete(tenant);
    if (tenants?.size === 0) this.queues.delete(cls);
    this.batchClass.delete(batch);
  }

  /** The waiter that would get the next slot, or null when nobody waits. */
  private best(): Choice | null {
    for (;;) {
      if (this.queues.size === 0) return null;
      let cls = Infinity;
      for (const key of this.queues.keys()) cls = Math.min(cls, key);
      const tenants = this.queues.get(cls) as Map<string, Map<string, WaiterHeap>>;
      const tenant = this.lowest(tenants, this.tenantPass, (batches) => this.lowestHead(batches));
      const batches = tenants.get(tenant) as Map<string, WaiterHeap>;
      const batch = this.lowest(batches, this.batchPass, (heap) => heap.peek()?.seq ?? Infinity);
      const heap = batches.get(batch) as WaiterHeap;
      const waiter = heap.peek();
      if (waiter !== undefined) return { cls, tenant, batch, heap, waiter };
      this.drop(batch, tenant);
    }
  }

  /** The key with the lowest pass; among equals, the one waiting longest. */
  private lowest<T>(entries: Map<string, T>, passes: Map<string, number>, since: (value: T) => number): string {
    let best = '';
    let bestPass = Infinity;
    let bestSeq = Infinity;
    for (const [key, value] of entries) {
      const pass = this.pass(passes, key);
      if (pass > bestPass) continue;
      const seq = since(value);
      if (pass < bestPass || seq < bestSeq) [best, bestPass, bestSeq] = [key, pass, seq];
    }
    return best;
  }

  private lowestHead(batches: Map<string, WaiterHeap>): number {
    let min = Infinity;
    for (const heap of batches.values()) min = Math.min(min, heap.peek()?.seq ?? Infinity);
    return min;
  }

  private pass(passes: Map<string, number>, key: string): number {
    return passes.get(key) ?? 0;
  }

  /** Counts a slot given to `c` against its tenant's and its batch's shares. */
  private served(c: Claimant): void {
    const tenant = c.tenant ?? '';
    const weight = Math.max(0.001, c.weight ?? this.tenantWeight.get(tenant) ?? 1);
    this.tenantPass.set(tenant, this.pass(this.tenantPass, tenant) + 1 / weight);
    this.batchPass.set(c.batch, this.pass(this.batchPass, c.batch) + 1);
    // Passes only matter relative to those waiting: forget the batches long gone now and then.
    if (this.batchPass.size > 10_000) {
      for (const key of this.batchPass.keys()) if (!this.batchClass.has(key)) this.batchPass.delete(key);
    }
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
    while (this.active < this.limit) {
      const best = this.best();
      if (best === null) return;
      const waiter = best.heap.pop() as Waiter;
      if (best.heap.live === 0) this.drop(best.batch, best.tenant);
      this.active++;
      this.served({ batch: best.batch, tenant: best.tenant });
      waiter.grant(this.releaser());
    }
  }
}

function asClaimant(claimant: Claimant | string, chunk = 0): Claimant {
  return typeof claimant === 'string' ? { batch: claimant, chunk } : claimant;
}

/** The deadline class of a claimant now; one class for claimants that name no deadline. */
function classOf(c: Claimant): number {
  if (c.deadlineMs === undefined || c.deadlineClasses === undefined || c.deadlineClasses.length === 0) return 0;
  return deadlineClass((c.deadlineMs - Date.now()) / 1000, c.deadlineClasses);
}

function stopReason(stopper: Stopper): Error {
  return stopper.reason ?? new Error('Stopped while waiting for a slot');
}
