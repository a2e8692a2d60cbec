/**
 * Pins how a running batch is counted: finished chunks from their results, running ones by their latest
 * report (the workflow's, or the API's heartbeat, whichever says more), never a chunk twice, never more
 * than the total.
 */
import type { BatchRecord } from '../../../common/batch';
import { emptyUsage } from '../../../common/batch';
import type { BatchProgress, ChunkCounts } from '../../../common/batch-progress';
import { mergeReports, withRunningChunks } from '../../../common/batch-progress';
import { newBatchRecord } from '../../helpers/batch-record';

const chunk = (chunkIndex: number, completed: number, failed = 0): ChunkCounts => ({
  chunkIndex,
  completed,
  failed,
  usage: { ...emptyUsage(), total_tokens: completed },
});

function record(total: number, completed: number, failed = 0): BatchRecord {
  const r = newBatchRecord({ inputFileId: 'file-x' });
  r.batch.request_counts = { total, completed, failed };
  r.batch.usage.total_tokens = completed;
  return r;
}

describe('withRunningChunks', () => {
  it('adds the running chunks to the finished ones, in a copy', () => {
    const base = record(30, 10, 1);
    const view = withRunningChunks(base, [chunk(1, 4, 1), chunk(2, 3)]);
    expect(view.batch.request_counts).toEqual({ total: 30, completed: 17, failed: 2 });
    expect(view.batch.usage.total_tokens).toBe(17);
    expect(base.batch.request_counts).toEqual({ total: 30, completed: 10, failed: 1 });
  });

  it('never counts past the total', () => {
    expect(withRunningChunks(record(10, 8), [chunk(1, 5, 3)]).batch.request_counts).toEqual({
      total: 10,
      completed: 10,
      failed: 0,
    });
  });
});

describe('mergeReports', () => {
  const progress = (finished: number[], running: ChunkCounts[]): BatchProgress => ({
    record: record(40, 10),
    finished,
    running,
  });

  it("keeps each running chunk's latest report, from the workflow or a heartbeat", () => {
    const merged = mergeReports(progress([0], [chunk(1, 5), chunk(2, 7)]), [chunk(1, 8), chunk(2, 6), chunk(3, 1)]);
    expect(merged.map((c) => [c.chunkIndex, c.completed])).toEqual([
      [1, 8],
      [2, 7],
      [3, 1],
    ]);
  });

  it('ignores the heartbeat of a chunk whose result the workflow already counted', () => {
    expect(mergeReports(progress([0, 1], []), [chunk(1, 10)])).toEqual([]);
  });
});
