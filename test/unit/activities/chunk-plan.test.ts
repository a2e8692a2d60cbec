/** Pins how an input file is cut into chunks: two per place in the window, limits on lines and bytes. */
import { planChunks } from '../../../activities/chunk-plan';

const sizing = { chunkMaxLines: 200, chunkMaxBytes: 1000, chunkWindow: 16 };

function starts(n: number, lineBytes: number): number[] {
  return Array.from({ length: n }, (_, i) => i * lineBytes);
}

function checkTiling(chunks: ReturnType<typeof planChunks>, total: number, totalBytes: number) {
  let line = 0;
  let byte = 0;
  chunks.forEach((c, i) => {
    expect(c.index).toBe(i);
    expect(c.firstLine).toBe(line);
    expect(c.start).toBe(byte);
    line += c.count;
    byte = c.end;
  });
  expect(line).toBe(total);
  expect(byte).toBe(totalBytes);
}

describe('planChunks', () => {
  it('cuts a batch into twice as many chunks as the window runs at once', () => {
    const chunks = planChunks(starts(3200, 5), 16_000, { ...sizing, chunkMaxBytes: 1e9 });
    expect(chunks).toHaveLength(32);
    expect(chunks.every((c) => c.count === 100)).toBe(true);
    checkTiling(chunks, 3200, 16_000);
  });

  it('gives a batch of fewer lines than that one line per chunk', () => {
    const chunks = planChunks(starts(10, 5), 50, sizing);
    expect(chunks.map((c) => c.count)).toEqual(Array(10).fill(1));
    checkTiling(chunks, 10, 50);
  });

  it('caps chunks at chunkMaxLines', () => {
    const chunks = planChunks(starts(50_000, 1), 50_000, { ...sizing, chunkMaxBytes: 1e9 });
    expect(chunks).toHaveLength(250);
    expect(Math.max(...chunks.map((c) => c.count))).toBe(200);
    checkTiling(chunks, 50_000, 50_000);
  });

  it('caps chunks at chunkMaxBytes, but always takes at least one line', () => {
    // Two lines per chunk by count; the 1980-byte line at offset 20 does not fit beside another.
    const chunks = planChunks([0, 10, 20, 2000, 2010, 2020], 2030, { ...sizing, chunkWindow: 2, chunkMaxBytes: 100 });
    expect(chunks.map((c) => c.count)).toEqual([2, 1, 2, 1]);
    checkTiling(chunks, 6, 2030);
  });

  it('keeps a small batch in one chunk, a 20-request batch included, with the default minimum', () => {
    const defaults = { chunkMinLines: 1000, chunkMaxLines: 10_000, chunkMaxBytes: 32 * 1024 * 1024, chunkWindow: 8 };
    expect(planChunks(starts(20, 5), 100, defaults)).toHaveLength(1);
    expect(planChunks(starts(1000, 5), 5000, defaults)).toHaveLength(1);
    // Above the minimum a batch is still cut for several workers: 5,000 lines in chunks of 1,000.
    const medium = planChunks(starts(5000, 5), 25_000, defaults);
    expect(medium.map((c) => c.count)).toEqual(Array(5).fill(1000));
    checkTiling(medium, 5000, 25_000);
    // A big batch: twice the window, as before.
    expect(planChunks(starts(50_000, 5), 250_000, defaults)).toHaveLength(16);
  });

  it('lets an explicit chunkMaxLines below the minimum win', () => {
    const chunks = planChunks(starts(20, 5), 100, { ...sizing, chunkMinLines: 1000, chunkMaxLines: 3 });
    expect(chunks.map((c) => c.count)).toEqual([3, 3, 3, 3, 3, 3, 2]);
    checkTiling(chunks, 20, 100);
  });

  it('plans nothing for no lines', () => {
    expect(planChunks([], 0, sizing)).toEqual([]);
  });
});
