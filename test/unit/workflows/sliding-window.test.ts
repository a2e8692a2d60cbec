/** Pins the chunk window: at most W in flight, the next starts as soon as one ends, failures stop new starts. */
import { runSlidingWindow } from '../../../workflows/sliding-window';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('runSlidingWindow', () => {
  it('keeps at most `window` tasks running and runs every one once', async () => {
    let running = 0;
    let peak = 0;
    const results: number[] = [];
    await runSlidingWindow(
      20,
      4,
      async (i) => {
        running++;
        peak = Math.max(peak, running);
        await tick((i * 7) % 5);
        running--;
        return i * 10;
      },
      (r) => results.push(r),
    );
    expect(peak).toBe(4);
    expect(results.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i * 10));
  });

  it('starts nothing new after a failure, waits for the running ones, then throws', async () => {
    const started: number[] = [];
    const finished: number[] = [];
    await expect(
      runSlidingWindow(
        10,
        3,
        async (i) => {
          started.push(i);
          if (i === 1) throw new Error('chunk 1 broke');
          await tick(20);
          finished.push(i);
          return i;
        },
        () => undefined,
      ),
    ).rejects.toThrow('chunk 1 broke');
    expect(started).toEqual([0, 1, 2]);
    expect(finished.sort()).toEqual([0, 2]);
  });

  it('does nothing for zero tasks', async () => {
    await runSlidingWindow(
      0,
      4,
      () => Promise.resolve(1),
      () => undefined,
    );
  });
});
