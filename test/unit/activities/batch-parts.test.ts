/**
 * Pins how a chunk's stored segments are read back when attempts overlap: a retry may start while the
 * attempt Temporal timed out still writes (a Temporal restart, a network split), and each line must still
 * be in the result files exactly once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { emptyUsage } from '../../../common/batch';
import type { SegmentRecord } from '../../../activities/batch-parts';
import { recoverSegments, storedChunk, writeSegment } from '../../../activities/batch-parts';
import { LocalFileStore } from '../../../storage/local-file-store';

const batchId = 'batch_01M8PARTS0000000000000000';
const chunk = { index: 0, start: 0, end: 1000, firstLine: 0, count: 100 };

function lines(from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, i) => JSON.stringify({ line: from + i }));
}

describe('the segments of overlapping attempts', () => {
  let dir: string;
  let store: LocalFileStore;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'parts-'));
    store = new LocalFileStore(dir);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function segment(attempt: number, start: number, end: number, skipped: number[] = []) {
    const ran = lines(start, end).filter((_, i) => !skipped.includes(start + i));
    const record: SegmentRecord = {
      attempt,
      start,
      end,
      endByte: end * 10,
      completed: ran.length,
      failed: 0,
      usage: emptyUsage(),
      skipped,
      hasOutput: ran.length > 0,
      hasErrors: false,
    };
    await writeSegment(store, batchId, 0, record, ran, []);
  }

  async function outputLines(keys: string[]): Promise<number[]> {
    const all: number[] = [];
    for (const key of keys) {
      const text = (await store.read(key))!.toString('utf8');
      for (const l of text.split('\n').filter(Boolean)) all.push((JSON.parse(l) as { line: number }).line);
    }
    return all;
  }

  it('keeps every line once when a timed-out attempt went on writing beside its retry', async () => {
    // Attempt 1 stored [0, 30) and [30, 60); its retry resumed at 30 (the last heartbeat Temporal kept)
    // and stored [30, 50) and [50, 100); attempt 1, not yet told, also stored [60, 80).
    await segment(1, 0, 30);
    await segment(1, 30, 60);
    await segment(2, 30, 50);
    await segment(2, 50, 100);
    await segment(1, 60, 80);
    const found = await storedChunk(store, batchId, chunk);
    expect(found.notRun.size).toBe(0);
    expect((await outputLines(found.outputKeys)).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 100 }, (_, i) => i),
    );
    expect(found.segments.reduce((n, s) => n + s.completed, 0)).toBe(100);
  });

  it('prefers a chain whose lines all ran to one that skipped lines, and reports the rest as not run', async () => {
    // Attempt 1 was stopped by the deadline with [40, 100) never run; attempt 2 ran [40, 70) before it too
    // stopped: lines 70..99 never ran.
    await segment(1, 0, 40);
    await segment(
      1,
      40,
      100,
      Array.from({ length: 60 }, (_, i) => 40 + i),
    );
    await segment(2, 40, 70);
    const found = await storedChunk(store, batchId, chunk);
    expect((await outputLines(found.outputKeys)).length).toBe(70);
    expect([...found.notRun].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => 70 + i));
  });

  it('resumes after the furthest chain of fully run segments, leaving the records of others alone', async () => {
    await segment(1, 0, 30);
    await segment(1, 30, 60);
    await segment(2, 30, 45, [40, 41, 42, 43, 44]);
    const from = { nextLine: 0, nextByte: 0, completed: 0, failed: 0, usage: emptyUsage() };
    const next = await recoverSegments(store, batchId, 0, from, 100);
    expect(next).toMatchObject({ nextLine: 60, nextByte: 600, completed: 60 });
    expect((await store.list(`batches/${batchId}/parts/`)).filter((k) => k.endsWith('.seg.json'))).toHaveLength(3);
  });

  it('reports every line of a chunk stopped before it ran any as not run', async () => {
    await segment(
      1,
      0,
      100,
      Array.from({ length: 100 }, (_, i) => i),
    );
    const found = await storedChunk(store, batchId, chunk);
    expect(found.outputKeys).toEqual([]);
    expect(found.notRun.size).toBe(100);
  });

  it("calls segments none of which starts at the chunk's first line corrupt", async () => {
    await segment(1, 30, 60);
    await expect(storedChunk(store, batchId, chunk)).rejects.toThrow(/no stored segment starts at its first line/);
  });
});
