import { temporal } from '@temporalio/proto';
import OpenAI from 'openai';
import type { Scenario } from '../scenario';
import { uploadFile } from '../harness/batches';
import { historyOf } from '../harness/history';
import type { History } from '../harness/history';
import { smallLine, writeInput } from '../harness/inputs';
import { seconds } from '../harness/report';
import type { Row } from '../harness/report';

export const workers: Scenario = {
  name: 'workers',
  description: 'Two worker processes on one task queue, one BENCH_REQUESTS-line batch; how its chunks were split.',
  async run(ctx) {
    const { requests } = ctx.options;
    const stack = await ctx.startStack(2);
    try {
      const client = new OpenAI({ baseURL: stack.apiUrl, apiKey: 'bench', maxRetries: 0 });
      const input = await writeInput(stack.dataDir, 'split.jsonl', requests, smallLine);
      const file = await uploadFile(client, input.file);
      const { batch, totalMs } = await ctx.runBatch(client, file.id);
      const history = await historyOf(stack.temporal.address, batch.id);
      ctx.report(`workers: two worker processes, one ${requests}-request batch`, [
        ['create → completed', `${seconds(totalMs)} (${Math.round(requests / (totalMs / 1000))} req/s)`],
        ...[...activitiesByWorker(history)].map(([id, n]): Row => [`activities on ${id}`, String(n)]),
      ]);
    } finally {
      await stack.stop();
    }
  },
};

/** How many activity tasks each worker (by identity) started. */
export function activitiesByWorker(history: History): Map<string, number> {
  const byWorker = new Map<string, number>();
  for (const event of history.events ?? []) {
    const attrs = event.activityTaskStartedEventAttributes;
    if (event.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED && attrs) {
      byWorker.set(attrs.identity ?? '?', (byWorker.get(attrs.identity ?? '?') ?? 0) + 1);
    }
  }
  return byWorker;
}
