/**
 * The share of an upstream's concurrency each worker may use, so that the ceiling
 * (`UPSTREAM_MAX_CONCURRENCY`) holds for the upstream as a whole however many workers send to it. Workers
 * hold leases on a small coordinating workflow (`workflows/upstream-budget-workflow.ts`) and renew them
 * every few seconds; a lease not renewed expires, so a worker that dies gives its share back. Pure and
 * workflow-safe.
 */

export interface Lease {
  worker: string;
  /** How many the worker would use now (its adaptive limit with room to grow); 0 when it is idle. */
  wanted: number;
  /** Requests it had in flight when it renewed. */
  inFlight: number;
  /** What it may use until it renews. */
  share: number;
  /** Epoch ms after which the lease is gone unless renewed. */
  expiresAt: number;
}

export interface BudgetState {
  ceiling: number;
  leases: Lease[];
}

export interface LeaseRequest {
  worker: string;
  wanted: number;
  inFlight: number;
  /** The ceiling as this worker is configured (the latest renewal's wins). */
  ceiling: number;
  ttlMs: number;
}

/**
 * Renews (or takes) a worker's lease and returns its share: its fair part of the ceiling among the workers
 * that want some (water-filling: nobody gets more than it wants, the rest is split evenly), but never more
 * than the others leave free — counting for each other worker the larger of its share and what it still
 * has in flight — so that the ceiling holds while shares move. A worker whose share shrank gets the rest
 * of its fair part on its next renewal, once the others have given theirs up.
 */
export function renewLease(state: BudgetState, request: LeaseRequest, nowMs: number): number {
  state.ceiling = request.ceiling;
  state.leases = state.leases.filter((l) => l.expiresAt > nowMs && l.worker !== request.worker);
  const lease: Lease = {
    worker: request.worker,
    wanted: Math.max(0, Math.floor(request.wanted)),
    inFlight: Math.max(0, Math.floor(request.inFlight)),
    share: 0,
    expiresAt: nowMs + request.ttlMs,
  };
  const others = state.leases.reduce((sum, l) => sum + Math.max(l.share, l.inFlight), 0);
  const fair = fairShares([...state.leases, lease], state.ceiling).get(lease.worker) ?? 0;
  lease.share = Math.max(0, Math.min(fair, state.ceiling - others));
  state.leases.push(lease);
  return lease.share;
}

/** Water-filling of `ceiling` between the leases by what each wants, in whole requests. */
export function fairShares(leases: readonly Pick<Lease, 'worker' | 'wanted'>[], ceiling: number): Map<string, number> {
  const shares = new Map<string, number>();
  let left = ceiling;
  const wanting = [...leases]
    .filter((l) => l.wanted > 0)
    .sort((a, b) => a.wanted - b.wanted || (a.worker < b.worker ? -1 : 1));
  for (const [i, l] of wanting.entries()) {
    const even = Math.floor(left / (wanting.length - i));
    const share = Math.min(l.wanted, even);
    shares.set(l.worker, share);
    left -= share;
  }
  // What an even split leaves over (fewer requests than workers) goes to the first that want more.
  for (const l of wanting) {
    if (left <= 0) break;
    const share = shares.get(l.worker) ?? 0;
    if (share < l.wanted) {
      shares.set(l.worker, share + 1);
      left--;
    }
  }
  return shares;
}
