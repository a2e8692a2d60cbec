/**
 * Pins the adaptive concurrency of DESIGN.md §4 against simulated servers (a discrete-event simulation on an
 * injected clock: no sleeps, no sockets): from a low start the limit settles between the server's slots N and
 * 1.5·N while nothing but latency shows the queue, and stays there; it shrinks when the server gets slower or
 * smaller, on 429s and on timeouts (once per window); it holds its floor and ceiling, and a lower ceiling
 * applies at once.
 */
import { AdaptiveLimit } from '../../../upstream/adaptive-limit';
import { LatencySim } from '../../helpers/latency-sim';
import type { SimPoint } from '../../helpers/latency-sim';

const WIDE = { floor: 1, ceiling: 1000 };

/** The limits decided outside probes (a probe halves the limit for a window on purpose). */
const steadyLimits = (points: SimPoint[]) =>
  points.filter((p) => p.signals.phase !== 'probe').map((p) => p.signals.limit);
/** The first window after which every steady limit stays within [lo, hi]. */
function settledAt(points: SimPoint[], lo: number, hi: number): SimPoint | undefined {
  const steady = points.filter((p) => p.signals.phase !== 'probe');
  const last = steady.findLastIndex((p) => p.signals.limit < lo || p.signals.limit > hi);
  return steady[last + 1];
}

describe('AdaptiveLimit on a server that queues (no 429s)', () => {
  it.each([
    [4, 200],
    [8, 1000],
    [24, 200],
    [64, 200],
    [200, 100],
  ])(
    'settles from a low start into [N, 1.5·N] with N = %i slots of %i ms, within 12 windows, and stays',
    (slots, serviceMs) => {
      const sim = new LatencySim({ slots, serviceMs, limit: WIDE });
      expect(sim.limit.limit).toBe(4);
      const end = 300 * serviceMs;
      sim.run(end);
      const settled = settledAt(sim.trace(), slots, 1.5 * slots);
      expect(settled).toBeDefined();
      expect(settled!.signals.windows).toBeLessThanOrEqual(12);
      expect(settled!.t).toBeLessThanOrEqual(20 * serviceMs); // a window is one to two round trips
      const after = sim.between(settled!.t, end);
      expect(Math.min(...steadyLimits(after))).toBeGreaterThanOrEqual(slots);
      expect(Math.max(...steadyLimits(after))).toBeLessThanOrEqual(1.5 * slots);
      // Probes to re-measure the no-load RTT cost a little: over 95% of the capacity is used.
      expect(sim.utilisation(settled!.t, end, slots, serviceMs)).toBeGreaterThan(0.95);
      // Within the ±10% jitter of the service time, averaged over a window.
      expect(sim.limit.signals().noLoadRttMs).toBeGreaterThan(0.9 * serviceMs);
      expect(sim.limit.signals().noLoadRttMs).toBeLessThan(1.1 * serviceMs);
    },
  );

  it('keeps a server of one or two slots busy with one or two requests queued behind them', () => {
    for (const slots of [1, 2]) {
      const sim = new LatencySim({ slots, serviceMs: 500, limit: WIDE }).run(300_000);
      expect(Math.max(...steadyLimits(sim.between(60_000, 300_000)))).toBeLessThanOrEqual(slots + 2);
      expect(sim.utilisation(60_000, 300_000, slots, 500)).toBeGreaterThan(0.95);
    }
  });

  it('shrinks when the server gets smaller (half its slots busy with other work), and settles again', () => {
    const sim = new LatencySim({ slots: (t) => (t < 40_000 ? 24 : 12), serviceMs: 200, limit: WIDE }).run(100_000);
    expect(Math.min(...steadyLimits(sim.between(20_000, 40_000)))).toBeGreaterThanOrEqual(24);
    const settled = settledAt(sim.between(40_000, 100_000), 12, 18);
    expect(settled!.t - 40_000).toBeLessThan(5_000);
  });

  it('shrinks when every request gets slower, re-measures the no-load RTT, and returns to [N, 1.5·N]', () => {
    const sim = new LatencySim({ slots: 24, serviceMs: (t) => (t < 40_000 ? 200 : 400), limit: WIDE }).run(100_000);
    const before = sim.between(30_000, 40_000).at(-1)!.signals.limit;
    expect(Math.min(...steadyLimits(sim.between(40_000, 45_000)))).toBeLessThan(before);
    const settled = settledAt(sim.between(40_000, 100_000), 24, 36);
    expect(settled!.t - 40_000).toBeLessThan(10_000);
    expect(sim.limit.signals().noLoadRttMs).toBeGreaterThan(0.95 * 400);
    // Not driven to the floor: one cut, then a probe (two halvings, one window each) finds the slower round
    // trip instead of a second cut, and it grows back.
    expect(Math.min(...steadyLimits(sim.between(40_000, 100_000)))).toBeGreaterThanOrEqual(12);
    expect(sim.between(40_000, 100_000).filter((p) => p.signals.phase === 'probe').length).toBeLessThanOrEqual(6);
  });

  it('yields to other clients of the server: it keeps the queue they all make small', () => {
    const sim = new LatencySim({ slots: 24, serviceMs: 200, otherLoad: (t) => (t < 40_000 ? 0 : 12), limit: WIDE });
    sim.run(100_000);
    const limits = steadyLimits(sim.between(50_000, 100_000));
    expect(Math.max(...limits) + 12).toBeLessThanOrEqual(36);
    expect(sim.utilisation(50_000, 100_000, 24, 200)).toBeGreaterThan(0.95);
  });

  it('shares the server between two workers: slots + queue stay under 1.5·N, the server busy', () => {
    const sim = new LatencySim({ slots: 24, serviceMs: 200, clients: 2, limit: WIDE }).run(100_000);
    const depth = sim.depth.slice(1000).sort((a, b) => a - b); // from 20 s on
    expect(depth[Math.ceil(0.95 * depth.length) - 1]).toBeLessThanOrEqual(36);
    expect(sim.utilisation(20_000, 100_000, 24, 200)).toBeGreaterThan(0.95);
  });
});

describe('AdaptiveLimit on a server that answers in a millisecond', () => {
  it("takes a few ms of the client's own stalls for no queue: it stays near its ceiling", () => {
    const sim = new LatencySim({ slots: 1000, serviceMs: 1, noiseMs: 6, limit: { floor: 1, ceiling: 64 } }).run(60_000);
    const limits = steadyLimits(sim.between(5_000, 60_000));
    expect(Math.min(...limits)).toBeGreaterThanOrEqual(32);
    expect(limits.filter((l) => l === 64).length / limits.length).toBeGreaterThan(0.9);
  });
});

describe('AdaptiveLimit on explicit overload', () => {
  it('stays just under the slots of a server that answers 429 beyond them, with few 429s', () => {
    const sim = new LatencySim({ slots: 24, serviceMs: 200, overflow: 'refuse', limit: WIDE }).run(120_000);
    const limits = sim.between(10_000, 120_000).map((p) => p.signals.limit);
    expect(Math.max(...limits)).toBeLessThanOrEqual(24 + 2);
    expect(Math.min(...limits)).toBeGreaterThanOrEqual(Math.floor(0.7 * 0.7 * 24));
    expect(sim.counts.overload / sim.counts.ok).toBeLessThan(0.01);
    expect(sim.utilisation(10_000, 120_000, 24, 200)).toBeGreaterThan(0.9);
  });

  it('shrinks on timeouts, once per window, toward the floor while they last, and grows back after', () => {
    const stalled = (t: number) => t >= 40_000 && t < 100_000;
    const sim = new LatencySim({
      slots: 24,
      serviceMs: (t) => (stalled(t) ? 3_600_000 : 200),
      timeoutMs: 5_000,
      limit: WIDE,
    });
    sim.run(45_100);
    const before = sim.between(30_000, 40_000).at(-1)!.signals.limit;
    // The first round of timeouts (every request in flight at once) cuts once.
    expect(sim.limit.limit).toBe(Math.floor(before * 0.7));
    expect(sim.limit.signals().reason).toBe('timeout');
    sim.run(100_000);
    expect(sim.limit.limit).toBe(1);
    sim.run(130_000);
    expect(sim.limit.limit).toBeGreaterThanOrEqual(24);
  });

  it('cuts once for 429s of requests sent before its last decrease', () => {
    let now = 100;
    const limit = new AdaptiveLimit({ floor: 1, ceiling: 64, initial: 40, now: () => now });
    limit.record(50, 40, 'overload');
    limit.record(60, 40, 'overload'); // sent under the old limit: the same overload
    expect(limit.limit).toBe(28);
    for (let i = 0; i < 20; i++) limit.record(now++, 1, 'overload');
    expect(limit.limit).toBe(1);
  });
});

describe('AdaptiveLimit bounds', () => {
  it('starts at max(floor, 4) within the ceiling', () => {
    expect(new AdaptiveLimit({ floor: 1, ceiling: 256 }).limit).toBe(4);
    expect(new AdaptiveLimit({ floor: 10, ceiling: 256 }).limit).toBe(10);
    expect(new AdaptiveLimit({ floor: 1, ceiling: 3 }).limit).toBe(3);
  });

  it('never goes below its floor, even on a server of fewer slots', () => {
    const sim = new LatencySim({ slots: 4, serviceMs: 200, limit: { floor: 10, ceiling: 64 } }).run(60_000);
    expect(Math.min(...sim.trace().map((p) => p.signals.limit))).toBe(10);
  });

  it('never goes above its ceiling, even on a server of more slots', () => {
    const sim = new LatencySim({ slots: 64, serviceMs: 200, limit: { floor: 1, ceiling: 16 } }).run(60_000);
    expect(Math.max(...sim.trace().map((p) => p.signals.limit))).toBe(16);
    expect(sim.utilisation(5_000, 60_000, 16, 200)).toBeGreaterThan(0.95);
  });

  it('applies a lower ceiling at once, and grows again when it is raised (up to the configured one)', () => {
    const changes: number[] = [];
    const sim = new LatencySim({ slots: 24, serviceMs: 200, limit: { floor: 1, ceiling: 48 } }).run(20_000);
    expect(sim.limit.limit).toBeGreaterThanOrEqual(24);
    sim.limit.setCeiling(10);
    expect(sim.limit.limit).toBe(10);
    expect(sim.limit.signals()).toMatchObject({ ceiling: 10, reason: 'ceiling' });
    sim.run(40_000);
    expect(Math.max(...sim.between(20_000, 40_000).map((p) => p.signals.limit))).toBeLessThanOrEqual(10);
    sim.limit.setCeiling(1000);
    expect(sim.limit.signals().ceiling).toBe(48);
    sim.run(60_000);
    const limits = steadyLimits(sim.between(50_000, 60_000));
    expect(Math.min(...limits)).toBeGreaterThanOrEqual(24);
    expect(Math.max(...limits)).toBeLessThanOrEqual(36);
    expect(changes).toEqual([]);
  });

  it('keeps the ceiling over the floor when a budget lowers it below the floor', () => {
    const limit = new AdaptiveLimit({ floor: 8, ceiling: 64 });
    limit.setCeiling(2);
    expect(limit.limit).toBe(2);
    expect(limit.signals()).toMatchObject({ floor: 2, ceiling: 2 });
    limit.setCeiling(32);
    expect(limit.signals()).toMatchObject({ limit: 8, floor: 8, ceiling: 32 });
  });
});

describe("AdaptiveLimit with the server's own queue", () => {
  /**
   * One window of answers that each took `rttMs`, sent one after another at the limit, on a clock advanced by
   * hand; `midway` runs after the first answer.
   */
  function window(limit: AdaptiveLimit, clock: { now: number }, rttMs: number, midway = () => {}) {
    clock.now += rttMs; // the first request of the window was sent after the last change
    const n = limit.limit;
    for (let i = 0; i < n; i++) {
      clock.now += 1;
      limit.record(clock.now - rttMs, n, 'ok');
      if (i === 0) midway();
    }
  }
  const start = () => {
    const clock = { now: 1_000 };
    const changes: number[] = [];
    const limit = new AdaptiveLimit({
      floor: 1,
      ceiling: 256,
      initial: 40,
      now: () => clock.now,
      onChange: (l) => changes.push(l),
    });
    window(limit, clock, 200);
    window(limit, clock, 200);
    expect(limit.limit).toBe(160); // slow start: nothing queues
    return { clock, limit, changes };
  };

  it('cuts on requests the server reports waiting, although the latency shows none', () => {
    const { clock, limit, changes } = start();
    window(limit, clock, 200, () => limit.serverWaiting(100));
    // Cut to half (at most), then, leaving slow start, a probe re-measures the no-load RTT at half that.
    expect(changes).toEqual([80, 160, 80, 40]);
    expect(limit.signals()).toMatchObject({ phase: 'probe', serverWaiting: 100, queueEstimate: 100 });
  });

  it('follows latency alone when the reading is older than the window, stale, or failed', () => {
    const { clock, limit } = start();
    limit.serverWaiting(100); // taken before the window's first answer: the queue of an earlier limit
    window(limit, clock, 200);
    expect(limit.limit).toBe(256);
    window(limit, clock, 200, () => {
      limit.serverWaiting(100);
      clock.now += 5_000; // stale by the end of the window
    });
    expect(limit.signals()).toMatchObject({ limit: 256, reason: 'latency', serverWaiting: null, queueEstimate: 0 });
    limit.serverWaiting(null);
    window(limit, clock, 200);
    expect(limit.signals()).toMatchObject({ limit: 256, serverWaiting: null, queueEstimate: 0 });
  });
});
