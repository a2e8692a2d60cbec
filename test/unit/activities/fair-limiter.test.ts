/** Pins the worker-wide concurrency cap: never exceeded, shared round-robin between batches, abortable. */
import { FairLimiter } from '../../../activities/fair-limiter';
import { Stopper } from '../../../activities/stopper';

describe('FairLimiter', () => {
  it('never grants more than its limit', async () => {
    const limiter = new FairLimiter(3);
    let active = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const release = await limiter.acquire(`k${i % 2}`);
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 2));
        active--;
        release();
      }),
    );
    expect(peak).toBe(3);
    expect(limiter.inFlight).toBe(0);
  });

  it('grants waiting keys in turn, so a late batch is not starved', async () => {
    const limiter = new FairLimiter(1);
    const first = await limiter.acquire('a');
    const order: string[] = [];
    const waits = [
      ...['a1', 'a2', 'a3'].map((n) => limiter.acquire('a').then((r) => (order.push(n), r()))),
      ...['b1', 'b2'].map((n) => limiter.acquire('b').then((r) => (order.push(n), r()))),
    ];
    first();
    await Promise.all(waits);
    expect(order).toEqual(['a1', 'b1', 'a2', 'b2', 'a3']);
  });

  it('serves a key by priority, lowest first, then in arrival order', async () => {
    const limiter = new FairLimiter(1);
    const held = await limiter.acquire('a');
    const order: string[] = [];
    const waits = [
      ['c2-1', 2],
      ['c0-1', 0],
      ['c1-1', 1],
      ['c0-2', 0],
    ].map(([name, priority]) =>
      limiter.acquire('a', undefined, priority as number).then((r) => (order.push(name as string), r())),
    );
    held();
    await Promise.all(waits);
    expect(order).toEqual(['c0-1', 'c0-2', 'c1-1', 'c2-1']);
  });

  it('drops a waiter that is stopped', async () => {
    const limiter = new FairLimiter(1);
    const held = await limiter.acquire('a');
    const stopper = new Stopper();
    const waiting = limiter.acquire('b', stopper);
    stopper.stop(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    held();
    held(); // a second release is harmless
    expect(limiter.inFlight).toBe(0);
    const next = await limiter.acquire('c');
    expect(limiter.inFlight).toBe(1);
    next();
  });
});
