/** Pins the stop signal of a chunk: who is called on stop, leaving, reused slots, and the sleep it offers. */
import { sleepUnlessStopped, Stopper } from '../../../upstream/stopper';

describe('Stopper', () => {
  it('calls every callback still registered, once, and none that left', () => {
    const stopper = new Stopper();
    const calls: string[] = [];
    stopper.onStop(() => calls.push('a'));
    const leaveB = stopper.onStop(() => calls.push('b'));
    stopper.onStop(() => calls.push('c'));
    leaveB();
    const reason = new Error('deadline');
    stopper.stop(reason);
    stopper.stop(new Error('again'));
    expect(calls).toEqual(['a', 'c']);
    expect(stopper.stopped).toBe(true);
    expect(stopper.reason).toBe(reason);
  });

  it('calls a callback at once when already stopped', () => {
    const stopper = new Stopper();
    stopper.stop();
    const callback = jest.fn();
    const leave = stopper.onStop(callback);
    expect(callback).toHaveBeenCalledTimes(1);
    leave();
  });

  it('reuses the slot of a callback that left, and leaving twice does not free the new holder', () => {
    const stopper = new Stopper();
    const calls: string[] = [];
    const leaveA = stopper.onStop(() => calls.push('a'));
    leaveA();
    stopper.onStop(() => calls.push('b')); // takes a's slot
    leaveA(); // must not remove b
    stopper.onStop(() => calls.push('c'));
    stopper.stop();
    expect(calls).toEqual(['b', 'c']);
  });

  it('keeps few slots however many requests come and go', () => {
    const stopper = new Stopper();
    for (let i = 0; i < 10_000; i++) {
      const leaves = [stopper.onStop(() => undefined), stopper.onStop(() => undefined)];
      for (const leave of leaves) leave();
    }
    // Two at a time were registered: two slots, reused 10,000 times, not a growing list.
    expect((stopper as unknown as { callbacks: unknown[] }).callbacks).toHaveLength(2);
    const calls: number[] = [];
    for (let i = 0; i < 3; i++) stopper.onStop(() => calls.push(i));
    stopper.stop();
    expect(calls.sort()).toEqual([0, 1, 2]);
  });

  it('leaving after the stop does nothing', () => {
    const stopper = new Stopper();
    const leave = stopper.onStop(() => undefined);
    stopper.stop();
    leave();
    const callback = jest.fn();
    stopper.onStop(callback);
    expect(callback).toHaveBeenCalledTimes(1);
  });
});

describe('sleepUnlessStopped', () => {
  it('resolves true after the delay, false at once when stopped', async () => {
    const stopper = new Stopper();
    await expect(sleepUnlessStopped(5, stopper)).resolves.toBe(true);
    const sleeping = sleepUnlessStopped(60_000, stopper);
    stopper.stop();
    await expect(sleeping).resolves.toBe(false);
  });
});
