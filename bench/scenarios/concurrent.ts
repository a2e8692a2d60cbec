import OpenAI from 'openai';
import type { Scenario } from '../scenario';
import { uploadFile } from '../harness/batches';
import { smallLine, writeInput } from '../harness/inputs';
import { seconds } from '../harness/report';
import type { Row } from '../harness/report';

export const concurrent: Scenario = {
  name: 'concurrent',
  description:
    'Three batches of 20,000, 5,000 and 1,000 requests on one worker with UPSTREAM_MAX_CONCURRENCY=16, the ' +
    'small ones 0.5 s after the big one; the progress of each, second by second.',
  async run(ctx) {
    const stack = await ctx.startStack(1, { UPSTREAM_MAX_CONCURRENCY: '16' });
    try {
      const client = new OpenAI({ baseURL: stack.apiUrl, apiKey: 'bench', maxRetries: 0 });
      const sizes = [20_000, 5_000, 1_000];
      const files = [];
      for (const [n, size] of sizes.entries()) {
        const input = await writeInput(stack.dataDir, `c${n}.jsonl`, size, smallLine);
        files.push(await uploadFile(client, input.file));
      }
      const progress: string[][] = sizes.map(() => []);
      const started = performance.now();
      const snapshot = (i: number) => (b: OpenAI.Batches.Batch) => {
        const done = (b.request_counts?.completed ?? 0) + (b.request_counts?.failed ?? 0);
        progress[i][Math.floor((performance.now() - started) / 1000)] = `${Math.round((100 * done) / sizes[i])}%`;
      };
      // The big batch starts first; the small ones arrive while it runs.
      const runs = [ctx.runBatch(client, files[0].id, snapshot(0))];
      await new Promise((r) => setTimeout(r, 500));
      runs.push(ctx.runBatch(client, files[1].id, snapshot(1)), ctx.runBatch(client, files[2].id, snapshot(2)));
      const results = await Promise.all(runs);
      const rows: Row[] = results.map((r, i) => [
        `batch ${i + 1} (${sizes[i]} requests)`,
        `done in ${seconds(r.totalMs)}; per second: ${progress[i].map((p) => p ?? '·').join(' ')}`,
      ]);
      ctx.report('concurrent: three batches on one worker, UPSTREAM_MAX_CONCURRENCY=16, zero latency', rows);
    } finally {
      await stack.stop();
    }
  },
};
