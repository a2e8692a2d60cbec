/**
 * Pins how much of a chunk's results waits in memory: large result lines (an embeddings answer is a float
 * array per input) go to storage in segments of at most SEGMENT_MAX_CHARS (plus the line that crossed it),
 * however few lines that is, with every line stored once, in order. Real storage (local disk).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { OUTPUT, ChunkRun, SEGMENT_MAX_CHARS } from '../../../activities/chunk-run';
import { emptyUsage } from '../../../common/batch';
import { keys } from '../../../storage';
import { LocalFileStore } from '../../../storage/local-file-store';

describe('ChunkRun', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'chunk-run-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('flushes large result lines in segments bounded by size, not only by line count', async () => {
    const store = new LocalFileStore(dir);
    const lines = 40;
    // Each line a quarter of the bound: a segment holds about four, far fewer than its 500-line limit.
    const line = (i: number) => `{"custom_id":"e-${i}","pad":"${'0.123456,'.repeat(SEGMENT_MAX_CHARS / 36)}"}`;
    const len = line(0).length;
    let stored = 0;
    let flushed: () => void = () => undefined;
    const run = new ChunkRun({
      store,
      batchId: 'batch_big',
      chunkIndex: 0,
      attempt: 1,
      from: { nextLine: 0, nextByte: 0, completed: 0, failed: 0, usage: emptyUsage() },
      total: lines,
      endByte: lines * 10,
      onFlushed: (progress) => {
        stored = progress.nextLine;
        flushed();
      },
      onFlushError: (err) => {
        throw err;
      },
    });
    // Lines come slower than storage takes them, as answers from an upstream do: once the unflushed lines
    // reach the bound, the next waits until they are stored (by this flush or one already running).
    for (let i = 0; i < lines; i++) {
      run.taken(i, (i + 1) * 10);
      run.record(i, OUTPUT, line(i), { prompt_tokens: 3, total_tokens: 3 });
      while ((i + 1 - stored) * len >= SEGMENT_MAX_CHARS) await new Promise<void>((resolve) => (flushed = resolve));
    }
    await run.finish('all');

    const parts = (await store.list(keys.chunkParts('batch_big', 0))).filter((k) => k.endsWith('.out.jsonl')).sort();
    expect(parts.length).toBeGreaterThanOrEqual(lines / 5);
    const found: string[] = [];
    for (const key of parts) {
      const text = (await store.read(key))!.toString('utf8');
      expect(text.length).toBeLessThanOrEqual(SEGMENT_MAX_CHARS + len + 1);
      found.push(...text.split('\n').filter((l) => l.length > 0));
    }
    expect(found).toEqual(Array.from({ length: lines }, (_, i) => line(i)));
    expect(run.progress).toMatchObject({ nextLine: lines, completed: lines, usage: { input_tokens: 3 * lines } });
  });
});
