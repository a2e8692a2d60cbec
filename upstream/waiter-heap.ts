import type { Release } from './fair-limiter';
import { MinHeap } from './min-heap';

export interface Waiter {
  priority: number;
  seq: number;
  /** Set when the waiter gave up (its signal aborted): it is skipped, not searched for and removed. */
  gone: boolean;
  grant: (release: Release) => void;
}

/** The waiters of one key, lowest priority first, then first come first served. */
export class WaiterHeap {
  private readonly heap = new MinHeap<Waiter>(before);
  /** Waiters that have not given up. */
  live = 0;

  push(w: Waiter): void {
    this.heap.push(w);
    this.live++;
  }

  /** The first waiter that has not given up, or undefined; it stays in the heap. */
  peek(): Waiter | undefined {
    let top = this.heap.peek();
    while (top !== undefined && top.gone) {
      this.heap.pop();
      top = this.heap.peek();
    }
    return top;
  }

  /** The first waiter that has not given up, or undefined. */
  pop(): Waiter | undefined {
    for (let top = this.heap.pop(); top !== undefined; top = this.heap.pop()) {
      if (!top.gone) {
        this.live--;
        return top;
      }
    }
    return undefined;
  }
}

function before(a: Waiter, b: Waiter): boolean {
  return a.priority < b.priority || (a.priority === b.priority && a.seq < b.seq);
}
