/** Pins the upstream back-off: halve once per overloaded round, grow by one per round, stay in [1, max]. */
import { Aimd } from '../../../upstream/aimd';

describe('Aimd', () => {
  it('halves once for overloads of requests sent before the last decrease, never below 1', () => {
    let now = 100;
    const changes: number[] = [];
    const aimd = new Aimd(
      64,
      (l) => changes.push(l),
      () => now,
    );
    aimd.overload(50);
    aimd.overload(60); // sent under the old limit: ignored
    expect(aimd.limit).toBe(32);
    for (let i = 0; i < 10; i++) {
      now += 10;
      aimd.overload(now);
    }
    expect(aimd.limit).toBe(1);
    expect(changes.slice(0, 6)).toEqual([32, 16, 8, 4, 2, 1]);
  });

  it('grows back by about one per round of successes, up to max', () => {
    const aimd = new Aimd(
      16,
      () => undefined,
      () => 0,
    );
    aimd.overload(0);
    expect(aimd.limit).toBe(8);
    for (let i = 0; i < 9; i++) aimd.success(); // one round, at the growing limit
    expect(aimd.limit).toBe(9);
    for (let i = 0; i < 1000; i++) aimd.success();
    expect(aimd.limit).toBe(16);
  });
});
