/**
 * Pins progress that moves: while a chunk still runs, `batches.retrieve` and `batches.list` count the requests
 * it has finished (from its heartbeats), not only chunks that ended; cancelling keeps exactly those.
 */
import { requestLine, startTestStack, uploadLines, waitForBatch } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';

jest.setTimeout(60_000);

describe('progress of a running batch', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack.stop());

  it('counts the finished requests of a chunk that is still running, in retrieve and list alike', async () => {
    // One chunk of 10: the first 4 answer at once, the other 6 are held by the upstream until cancelled.
    const lines = Array.from({ length: 10 }, (_, i) =>
      requestLine(`p-${i}`, '/v1/chat/completions', i < 4 ? {} : { fixture: { delay_ms: 600_000 } }),
    );
    const file = await uploadLines(stack.client, lines);
    const created = await stack.client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });

    const giveUp = Date.now() + 30_000;
    let batch = await stack.client.batches.retrieve(created.id);
    while (batch.request_counts?.completed !== 4) {
      if (Date.now() > giveUp) throw new Error(`Still ${JSON.stringify(batch.request_counts)} (${batch.status})`);
      await new Promise((r) => setTimeout(r, 100));
      batch = await stack.client.batches.retrieve(created.id);
    }
    // The chunk has not ended (its held requests have not), so these counts came from its heartbeat.
    expect(batch.status).toBe('in_progress');
    expect(batch.request_counts).toEqual({ total: 10, completed: 4, failed: 0 });
    expect(batch.usage?.total_tokens).toBeGreaterThan(0);
    const listed = (await stack.client.batches.list()).data.find((b) => b.id === created.id);
    expect(listed?.request_counts).toEqual({ total: 10, completed: 4, failed: 0 });

    await stack.client.batches.cancel(created.id);
    const { batch: cancelled } = await waitForBatch(stack.client, created.id);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.request_counts).toEqual({ total: 10, completed: 4, failed: 6 });
  });
});
