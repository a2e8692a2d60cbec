import type { Release } from './fair-limiter';

export interface Waiter {
  priority: number;
  seq: number;
  /** Set when the waiter gave up (its signal aborted): it is skipped, not searched for and removed. */
  gone: boolean;
  grant: (release: Release) => void;
}

/** The waiters of one key, lowest priority first, then first come first served. */
export class WaiterHeap {
  private readonly items: Waiter[] = [];
  /** Waiters that have not given up. */
  live = 0;

  push(w: Waiter): void {
    const a = this.items;
    a.push(w);
    this.live++;
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }

  /** The first waiter that has not given up, or undefined; it stays in the heap. */
  peek(): Waiter | undefined {
    while (this.items.length > 0 && this.items[0].gone) this.removeTop();
    return this.items[0];
  }

  /** The first waiter that has not given up, or undefined. */
  pop(): Waiter | undefined {
    while (this.items.length > 0) {
      const top = this.removeTop();
      if (!top.gone) {
        this.live--;
        return top;
      }
    }
    return undefined;
  }

  private removeTop(): Waiter {
    const a = this.items;
    const top = a[0];
    const last = a.pop() as Waiter;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l], a[m])) m = l;
        if (r < a.length && before(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Waiter, b: Waiter): boolean {
  return a.priority < b.priority || (a.priority === b.priority && a.seq < b.seq);
}
