/**
 * A stop signal for the hot path of a chunk. Every request in flight registers to be stopped, and an
 * AbortSignal (an EventTarget) pays for each listener added and removed; this keeps them in a Set, so
 * registering and leaving cost nothing worth measuring.
 */
export class Stopper {
  private readonly callbacks = new Set<() => void>();
  private stoppedWith: Error | null = null;

  get stopped(): boolean {
    return this.stoppedWith !== null;
  }

  get reason(): Error | null {
    return this.stoppedWith;
  }

  /** Stops everything registered, once. */
  stop(reason: Error = new Error('Stopped')): void {
    if (this.stoppedWith !== null) return;
    this.stoppedWith = reason;
    for (const callback of this.callbacks) callback();
    this.callbacks.clear();
  }

  /** Calls `callback` when stopped (at once if already stopped); returns the way to unregister. */
  onStop(callback: () => void): () => void {
    if (this.stoppedWith !== null) {
      callback();
      return () => undefined;
    }
    this.callbacks.add(callback);
    return () => this.callbacks.delete(callback);
  }
}

/** Resolves after `ms`, or early (to false) when stopped. */
export function sleepUnlessStopped(ms: number, stopper: Stopper): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      leave();
      resolve(true);
    }, ms);
    const leave = stopper.onStop(() => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}
