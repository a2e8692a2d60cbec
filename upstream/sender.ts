import type { Claimant, FairLimiter, Release } from './fair-limiter';
import type { Stopper } from './stopper';
import type { UpstreamRequest, UpstreamResult } from './types';

/** An upstream as a sender sees it: where its slots come from. */
export interface SlotRoute {
  limiter: FairLimiter;
}

/**
 * A slot of one upstream's concurrency, held across requests by one {@link Sender}. Releasing an empty slot
 * is harmless.
 */
export class Slot {
  private route: SlotRoute | null = null;
  private releaseFn: Release | null = null;

  get held(): boolean {
    return this.releaseFn !== null;
  }

  release(): void {
    this.take(this.route)?.();
  }

  /** The slot's release if it is held for `route`; the slot is then empty. */
  take(route: SlotRoute | null): Release | null {
    if (this.route !== route) return null;
    const release = this.releaseFn;
    this.route = null;
    this.releaseFn = null;
    return release;
  }

  fill(route: SlotRoute, release: Release): void {
    this.release();
    this.route = route;
    this.releaseFn = release;
  }

  routeHeld(): SlotRoute | null {
    return this.route;
  }
}

/** Who sends through a {@link Sender}, fixed for its life. */
export interface SenderOptions {
  /** The batch id: slots are shared fairly between keys. */
  fairnessKey: string;
  /** Among requests of one key, lower goes first (the chunk index). */
  priority: number;
  /** The batch's tenant and its weight, and the deadline classes: the limiter's order between batches. */
  tenant?: string;
  tenantWeight?: number;
  deadlineClasses?: readonly number[];
  /** No attempt starts, and no backoff waits, past this time (epoch ms). */
  deadlineMs: number;
  /** Stops waiting and requests in flight (cancel, deadline, shutdown). */
  stopper: Stopper;
}

/**
 * One sending loop's handle on the upstream. The loop asks for a slot before it reads its next line
 * ({@link Sender.tryReady}, else {@link Sender.waitReady}), so a request waiting its turn is a place in a
 * queue, not a line read, parsed and held in memory; then it sends. The slot stays with the sender for the
 * next line while nobody more deserving waits: a slot kept costs nothing, one released and taken again
 * costs a queue entry and a promise per request.
 */
export class Sender {
  private readonly slot = new Slot();
  private readonly claimant: Claimant;

  constructor(
    private readonly options: SenderOptions,
    private readonly routeFor: (model: string | null) => SlotRoute | null,
    private readonly sendOn: (req: UpstreamRequest, slot: Slot) => Promise<UpstreamResult>,
  ) {
    this.claimant = {
      batch: options.fairnessKey,
      chunk: options.priority,
      tenant: options.tenant,
      weight: options.tenantWeight,
      deadlineMs: options.deadlineMs,
      deadlineClasses: options.deadlineClasses,
    };
  }

  /** Holds a slot for a request to `model`'s upstream now (kept, or free and nobody waiting); no promise. */
  tryReady(model: string | null): boolean {
    const { slot } = this;
    const held = slot.routeHeld();
    if (held !== null && !held.limiter.mayKeep(this.claimant)) slot.release();
    if (slot.held) return true;
    const route = this.routeFor(model);
    const release = route?.limiter.tryAcquire(this.claimant) ?? null;
    if (release === null) return false;
    slot.fill(route as SlotRoute, release);
    return true;
  }

  /** Waits for a slot of `model`'s upstream in the fair order of {@link FairLimiter}; false when stopped first. */
  async waitReady(model: string | null): Promise<boolean> {
    const route = this.routeFor(model);
    if (route === null) return false;
    const { stopper } = this.options;
    try {
      this.slot.fill(route, await route.limiter.acquire(this.claimant, stopper));
      return true;
    } catch {
      return false;
    }
  }

  /** Sends one request with its retries, its first attempt on the slot held. */
  send(model: string, url: string, body: string): Promise<UpstreamResult> {
    const { fairnessKey, priority, deadlineMs, stopper } = this.options;
    const { claimant } = this;
    return this.sendOn({ model, url, body, fairnessKey, priority, deadlineMs, stopper, claimant }, this.slot);
  }

  /** Gives the slot back; the sender may be used again, or dropped. */
  close(): void {
    this.slot.release();
  }
}
