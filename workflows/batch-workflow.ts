import { CancellationScope } from '@temporalio/workflow';
import type { BatchRecord, BatchWorkflowInput } from '../common/batch';
import { decideOutcome } from '../common/batch-lifecycle';
import { BatchRun } from './batch-run';

/**
 * One batch, from validation to its terminal state. The workflow id is the batch id.
 *
 * History holds only ids, keys and counts: the input file is validated and cut into chunks by an activity,
 * each chunk runs as one activity within a sliding window, and finalize builds the result files from what
 * the chunks stored. The deadline is a timer raced against the chunks. Every decision about statuses and
 * outcomes is made by `common/batch-lifecycle.ts`.
 */
export async function batchWorkflow(input: BatchWorkflowInput): Promise<BatchRecord> {
  const run = new BatchRun(input);
  run.handleQueriesAndCancels();
  // The work runs in a non-cancellable scope so that a cancel of the workflow (`temporal workflow cancel`,
  // the Web UI) becomes a cancel of the batch, and finalize still writes the result files and batch.json.
  return CancellationScope.nonCancellable(async () => {
    const validation = await run.validate();
    if (!validation.ok) return run.finish('failed', null);
    const early = run.outcomeBeforeChunks();
    if (early !== null) return run.finish(early, validation.manifestKey);
    run.enter('in_progress');
    const outcome = decideOutcome(await run.runChunks(validation));
    if (outcome === 'completed') run.enter('finalizing');
    return run.finish(outcome, validation.manifestKey);
  });
}
