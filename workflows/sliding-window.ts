/**
 * Runs `task(0) … task(count - 1)` with at most `window` in flight, starting the next as soon as any
 * finishes, and hands each result to `onResult` in completion order. Stops starting new tasks after the
 * first failure, waits for the ones in flight, then rethrows that failure.
 */
export async function runSlidingWindow<T>(
  count: number,
  window: number,
  task: (index: number) => Promise<T>,
  onResult: (result: T, index: number) => void,
): Promise<void> {
  type Settled = { index: number; ok: true; value: T } | { index: number; ok: false; error: unknown };
  const running = new Map<number, Promise<Settled>>();
  let next = 0;
  let failure: { error: unknown } | null = null;
  while (running.size > 0 || (next < count && failure === null)) {
    while (failure === null && next < count && running.size < window) {
      const index = next++;
      running.set(
        index,
        task(index).then(
          (value): Settled => ({ index, ok: true, value }),
          (error: unknown): Settled => ({ index, ok: false, error }),
        ),
      );
    }
    const settled = await Promise.race(running.values());
    running.delete(settled.index);
    if (settled.ok) onResult(settled.value, settled.index);
    else failure ??= { error: settled.error };
  }
  if (failure !== null) throw failure.error;
}
