/** The client hung up (or the server is stopping): nobody is left to answer. */
export class AbortedError extends Error {}

/** Hands out a fixed set of items first come, first served; a waiter whose signal aborts leaves the queue. */
export class SlotPool {
  #free;
  #waiters = [];

  constructor(items) {
    this.#free = [...items];
  }

  acquire(signal) {
    if (signal.aborted) return Promise.reject(new AbortedError());
    if (this.#free.length > 0) return Promise.resolve(this.#free.pop());
    return new Promise((resolve, reject) => {
      const waiter = {
        give: (item) => {
          signal.removeEventListener('abort', onAbort);
          resolve(item);
        },
      };
      const onAbort = () => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new AbortedError());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  release(item) {
    const next = this.#waiters.shift();
    if (next) next.give(item);
    else this.#free.push(item);
  }
}
