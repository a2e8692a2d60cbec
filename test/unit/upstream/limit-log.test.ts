/** Pins which moves of the adaptive limit reach the logs: its start, a noticeable step or a turn, at most every 5 s. */
import { LimitLog } from '../../../upstream/limit-log';
import type { LimitSignals } from '../../../upstream/limit-signals';
import { createLogger } from '../../../telemetry/logger';

function signals(limit: number, phase: LimitSignals['phase'] = 'steady'): LimitSignals {
  return {
    limit,
    ceiling: 64,
    floor: 1,
    noLoadRttMs: 200,
    recentRttMs: 240,
    queueEstimate: 4.04,
    serverWaiting: null,
    phase,
    reason: 'latency',
    windows: 1,
  };
}

describe('LimitLog', () => {
  const setup = () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger(
      { level: 'info', service: 'test' },
      { write: (l: string) => lines.push(JSON.parse(l)) },
    );
    return { lines, log: new LimitLog(logger, 'http://u/v1') };
  };

  it('logs the start, then steps of 2 requests and 20%, not every window', () => {
    const { lines, log } = setup();
    expect(log.consider(signals(4), 0)).toBe(true);
    expect(log.consider(signals(8), 10_000)).toBe(true);
    expect(log.consider(signals(9), 20_000)).toBe(false); // +1 on 8: small, same direction
    expect(log.consider(signals(10), 30_000)).toBe(true); // +2 on 8, 25%
    expect(lines.map((l) => l.msg)).toEqual([
      'upstream concurrency limit starts at 4',
      'upstream concurrency limit 4 → 8',
      'upstream concurrency limit 8 → 10',
    ]);
    expect(lines[2]).toMatchObject({
      upstream: 'http://u/v1',
      limit: 10,
      previous: 8,
      reason: 'latency',
      noLoadRttMs: 200,
      recentRttMs: 240,
      queueEstimate: 4,
    });
  });

  it('logs a turn even when small, and nothing within 5 s of the last line', () => {
    const { lines, log } = setup();
    log.consider(signals(20), 0);
    log.consider(signals(30), 10_000);
    expect(log.consider(signals(29), 12_000)).toBe(false); // a turn, but too soon
    expect(log.consider(signals(29), 15_000)).toBe(true); // the held-back turn, at the next window
    expect(log.consider(signals(29), 30_000)).toBe(false); // no move
    expect(lines.map((l) => l.limit)).toEqual([20, 30, 29]);
  });

  it("does not log a probe's halving for one window, nor the return from it", () => {
    const { lines, log } = setup();
    log.consider(signals(28), 0);
    expect(log.consider(signals(14, 'probe'), 30_000)).toBe(false);
    expect(log.consider(signals(28), 31_000)).toBe(false);
    expect(lines).toHaveLength(1);
  });
});
