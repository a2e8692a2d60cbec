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

describe('FairLimiter between batches of tenants and deadlines', () => {
  const HOUR = 3600;
  const classes = [HOUR, 24 * HOUR];

  /** Grants `n` slots one at a time to the waiters queued by `enqueue`, and returns whose they were. */
  async function grantOrder(enqueue: (limiter: FairLimiter, order: string[]) => Promise<void>[], n: number) {
    const limiter = new FairLimiter(1);
    const held = await limiter.acquire('holder');
    const order: string[] = [];
    const waits = enqueue(limiter, order);
    held();
    await Promise.all(waits.slice(0, n));
    return order.slice(0, n);
  }

  it('serves the earliest deadline class first, before the batch that waited longer', async () => {
    const now = Date.now();
    const order = await grantOrder(
      (limiter, order) => [
        ...[1, 2].map((i) =>
          limiter
            .acquire({ batch: 'day', tenant: 'a', deadlineMs: now + 20 * HOUR * 1000, deadlineClasses: classes })
            .then((r) => (order.push(`day-${i}`), r())),
        ),
        ...[1, 2].map((i) =>
          limiter
            .acquire({ batch: 'hour', tenant: 'b', deadlineMs: now + 1800 * 1000, deadlineClasses: classes })
            .then((r) => (order.push(`hour-${i}`), r())),
        ),
      ],
      4,
    );
    expect(order).toEqual(['hour-1', 'hour-2', 'day-1', 'day-2']);
  });

  it('shares a class between tenants in proportion to their weights', async () => {
    const order = await grantOrder(
      (limiter, order) =>
        ['heavy', 'light'].flatMap((tenant) =>
          Array.from({ length: 40 }, () =>
            limiter
              .acquire({ batch: `${tenant}-batch`, tenant, weight: tenant === 'heavy' ? 3 : 1 })
              .then((r) => (order.push(tenant), r())),
          ),
        ),
      40,
    );
    const heavy = order.slice(0, 40).filter((t) => t === 'heavy').length;
    expect(heavy).toBe(30);
  });

  it("shares a tenant's part between its batches, not the whole between batches", async () => {
    const order = await grantOrder(
      (limiter, order) =>
        [
          ['a', 'a-1'],
          ['a', 'a-2'],
          ['b', 'b-1'],
        ].flatMap(([tenant, batch]) =>
          Array.from({ length: 40 }, () => limiter.acquire({ batch, tenant }).then((r) => (order.push(batch), r()))),
        ),
      40,
    );
    const count = (batch: string) => order.filter((b) => b === batch).length;
    expect([count('a-1'), count('a-2'), count('b-1')]).toEqual([10, 10, 20]);
  });

  it('lets a holder keep its slot only while no waiter goes first', async () => {
    const limiter = new FairLimiter(1);
    const now = Date.now();
    const day = { batch: 'day', tenant: 'a', deadlineMs: now + 20 * HOUR * 1000, deadlineClasses: classes };
    const release = await limiter.acquire(day);
    expect(limiter.mayKeep(day)).toBe(true); // nobody waits
    const hour = limiter.acquire({ batch: 'hour', tenant: 'a', deadlineMs: now + 60_000, deadlineClasses: classes });
    expect(limiter.mayKeep(day)).toBe(false); // an earlier deadline waits
    release();
    (await hour)();
  });
});
