import { allHandlersFinished, condition, continueAsNew, setHandler, workflowInfo } from '@temporalio/workflow';
import type { BudgetState } from '../common/upstream-budget';
import { renewLease } from '../common/upstream-budget';
import { budgetQuery, renewLeaseUpdate } from './definitions';

/** History events after which the workflow continues as new, carrying its leases. */
const MAX_HISTORY_EVENTS = 2000;

/**
 * One upstream's concurrency budget, shared by every worker of a task queue (workflow id
 * `upstream-budget-<task queue>-<upstream>`, started by the first worker that asks). It holds the leases
 * and answers renewals (`common/upstream-budget.ts`); it never ends by itself, and keeps its history short
 * by continuing as new.
 */
export async function upstreamBudgetWorkflow(state: BudgetState = { ceiling: 1, leases: [] }): Promise<never> {
  setHandler(renewLeaseUpdate, (request) => renewLease(state, request, Date.now()));
  setHandler(budgetQuery, () => state);
  await condition(() => workflowInfo().historyLength > MAX_HISTORY_EVENTS || workflowInfo().continueAsNewSuggested);
  await condition(allHandlersFinished);
  return continueAsNew<typeof upstreamBudgetWorkflow>(state);
}
