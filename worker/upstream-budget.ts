import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { WithStartWorkflowOperation } from '@temporalio/client';
import type { LeaseRequest } from '../common/upstream-budget';
import type { Logger } from '../telemetry/logger';
import type { UpstreamClient } from '../upstream/client';
import type { upstreamBudgetWorkflow } from '../workflows';
import { renewLeaseUpdate, UPSTREAM_BUDGET_WORKFLOW_TYPE } from '../workflows/definitions';

export interface UpstreamBudgetOptions {
  client: Client;
  taskQueue: string;
  /** This worker's identity: its lease's name. */
  worker: string;
  upstream: UpstreamClient;
  /** A lease not renewed for this long is gone: a dead worker's share goes back to the others. */
  leaseTtlMs: number;
  logger: Logger;
}

/** How often a worker renews its leases while nothing changes… */
const RENEW_MS = 2000;
/** …and how often it looks whether it has work but no share (then it renews at once). */
const CHECK_MS = 250;
/** A renewal that takes longer has failed (and the next one is tried). */
const RENEW_TIMEOUT_MS = 5000;

/**
 * Keeps this worker's shares of each upstream's concurrency: one lease per upstream on its budget workflow
 * (`workflows/upstream-budget-workflow.ts`, started by the first worker that asks), renewed every few
 * seconds with what the worker wants and has in flight. The share becomes the ceiling of the worker's own
 * limit for that upstream, so `UPSTREAM_MAX_CONCURRENCY` holds for all workers together. If Temporal cannot
 * be reached for longer than a lease lives, the share falls to 1: others may have been given the rest.
 * Returns the function that stops renewing; it resolves once no renewal is in flight, so the connection
 * can be closed under none.
 */
export function keepUpstreamBudgets(options: UpstreamBudgetOptions): () => Promise<void> {
  const { upstream, logger } = options;
  const lastRenewal = new Map<string, { at: number; share: number }>();
  const renew = async (route: ReturnType<UpstreamClient['budgetDemand']>[number]) => {
    const wanted = route.busy ? route.ceiling : 0;
    try {
      const share = await renewLease(options, route.route, route.baseUrl, {
        worker: options.worker,
        wanted,
        inFlight: route.inFlight,
        ceiling: route.ceiling,
        ttlMs: options.leaseTtlMs,
      });
      const before = lastRenewal.get(route.route)?.share;
      lastRenewal.set(route.route, { at: Date.now(), share });
      upstream.setShare(route.route, share);
      if (before !== share) logger.debug({ upstream: route.baseUrl, share, wanted }, 'upstream share');
    } catch (err) {
      const last = lastRenewal.get(route.route);
      if (last === undefined || Date.now() - last.at > options.leaseTtlMs) upstream.setShare(route.route, 1);
      logger.warn({ upstream: route.baseUrl, err: String(err) }, 'could not renew the upstream lease');
    }
  };
  let running: Promise<unknown> | null = null;
  const timer = setInterval(() => {
    if (running !== null) return;
    const due = upstream.budgetDemand().filter((route) => {
      const last = lastRenewal.get(route.route);
      const starved = route.busy && (last?.share ?? 0) === 0;
      return last === undefined || starved || Date.now() - last.at >= RENEW_MS;
    });
    if (due.length === 0) return;
    running = Promise.all(due.map(renew)).finally(() => (running = null));
  }, CHECK_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}

/** Renews the lease on the budget workflow of one upstream, starting the workflow if it does not run. */
async function renewLease(
  { client, taskQueue }: UpstreamBudgetOptions,
  route: string,
  baseUrl: string,
  request: LeaseRequest,
): Promise<number> {
  const key = createHash('sha256').update(`${route}\n${baseUrl}`).digest('hex').slice(0, 16);
  const workflowId = `upstream-budget-${taskQueue}-${key}`;
  const start = new WithStartWorkflowOperation<typeof upstreamBudgetWorkflow>(UPSTREAM_BUDGET_WORKFLOW_TYPE, {
    workflowId,
    taskQueue,
    args: [{ ceiling: request.ceiling, leases: [] }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    staticSummary: `Concurrency budget of ${baseUrl}${route === '' ? '' : ` (model ${route})`}`,
  });
  // The handle is not needed; its promise fails with the update (a closed connection), which the caller sees.
  start.workflowHandle().catch(() => undefined);
  // Bounded: a renewal waits for a worker to run the budget workflow, and this one may be stopping.
  return client.withDeadline(Date.now() + RENEW_TIMEOUT_MS, () =>
    client.workflow.executeUpdateWithStart(renewLeaseUpdate, { args: [request], startWorkflowOperation: start }),
  );
}
