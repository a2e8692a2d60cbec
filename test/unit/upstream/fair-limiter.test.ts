/** Pins the worker-wide concurrency cap: never exceeded, shared round-robin between batches, abortable. */
import { FairLimiter } from '../../../upstream/fair-limiter';
import { Stopper } from '../../../upstream/stopper';

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

  it('lets a holder keep its slot only while nobody who comes first waits', async () => {
    const limiter = new FairLimiter(2);
    const a0 = await limiter.acquire('a', undefined, 0);
    const a1 = await limiter.acquire('a', undefined, 1);
    expect(limiter.mayKeep('a', 0)).toBe(true); // nobody waits

    const stopper = new Stopper();
    const laterChunk = limiter.acquire('a', stopper, 2);
    expect(limiter.mayKeep('a', 0)).toBe(true); // a later chunk of the same batch waits: it comes after
    expect(limiter.mayKeep('a', 2)).toBe(false); // the same priority: the waiter has waited longer
    stopper.stop(new Error('gone'));
    await expect(laterChunk).rejects.toThrow('gone');
    expect(limiter.mayKeep('a', 2)).toBe(true); // a waiter that gave up does not count

    const otherBatch = limiter.acquire('b');
    expect(limiter.mayKeep('a', 0)).toBe(false); // another batch's turn
    a0();
    const b = await otherBatch;
    expect(limiter.mayKeep('a', 1)).toBe(true);

    limiter.setLimit(1); // two in flight over a limit of one: a holder gives its slot up
    expect(limiter.mayKeep('a', 1)).toBe(false);
    a1();
    b();
    expect(limiter.inFlight).toBe(0);
  });
});
