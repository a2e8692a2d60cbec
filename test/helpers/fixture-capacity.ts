/**
 * The fixture upstream's capacity model, as vLLM and llama.cpp server behave: a number of slots serve
 * requests at once and the rest wait in a FIFO queue (no 429s). A request whose client hangs up leaves
 * the queue, or frees its slot, at once. Its stats (queue waits, depth over time) are what the bench
 * reads to see what a client's concurrency did to the server.
 */

/** What became of one request that reached the capacity model. */
export type FixtureRequestOutcome =
  /** Waiting for a slot. */
  | 'queued'
  /** Holding a slot. */
  | 'serving'
  /** Answered (any status, faults included) while holding its slot. */
  | 'served'
  /** Its client hung up while it waited: it left the queue and was never served. */
  | 'abandoned-queued'
  /** Its client hung up, or the fixture reset the connection, while it held a slot. */
  | 'abandoned-serving';

/** One POST request to an OpenAI endpoint, from arrival (its body read) to its end. */
export interface FixtureRequestRecord {
  /** Order of arrival since the start (1-based; not reset by `resetStats`). */
  readonly seq: number;
  /** The path, e.g. `/v1/chat/completions`. */
  readonly endpoint: string;
  /** The `fixture.tag` of its body, to find a request in tests; null when absent. */
  readonly tag: string | null;
  /** Epoch ms (fractional) when its body had been read and it joined the queue. */
  readonly arrivedAt: number;
  /** Epoch ms when it got a slot; null while queued or if it never got one. */
  startedAt: number | null;
  /** Epoch ms when it was answered or abandoned. */
  endedAt: number | null;
  /** The status it was answered with; null if it was not answered. */
  status: number | null;
  outcome: FixtureRequestOutcome;
}

/** In-flight and queued requests at one instant. */
export interface FixtureDepthSample {
  /** Epoch ms. */
  readonly at: number;
  readonly serving: number;
  readonly queued: number;
}

/** Count and nearest-rank percentiles of a series; zeros when it is empty. */
export interface FixtureSummary {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  max: number;
}

/** A snapshot of the stats since the start or the last `resetStats()`, safe to JSON-encode. */
export interface FixtureStats {
  /** Requests that reached the capacity model (their body read). */
  arrived: number;
  /** Requests answered while holding a slot. */
  completed: number;
  /** Requests whose client hung up while queued. */
  abandonedQueued: number;
  /** Requests whose connection closed before their answer ended while holding a slot. */
  abandonedServing: number;
  /** Waiting for a slot now. */
  queued: number;
  /** Holding a slot now. */
  serving: number;
  /** The most held at once, and the longest queue. */
  maxServing: number;
  maxQueued: number;
  /** Epoch ms of the first arrival and of the last answer; null before either. */
  firstArrivalAt: number | null;
  lastResponseAt: number | null;
  /** Time from arrival to getting a slot, over the requests that got one. */
  queueWaitMs: FixtureSummary;
  /** serving + queued, sampled every {@link DEPTH_SAMPLE_MS} ms while anything is serving or queued. */
  depth: FixtureSummary;
}

/** How often depth is sampled while anything is in flight or queued. */
export const DEPTH_SAMPLE_MS = 20;

/** One request's place in the capacity model, from arrival to the close of its connection. */
export class Ticket {
  /** True once the connection closed before the answer ended (the client left, or the fixture reset it). */
  abandoned = false;
  /** Set while the request waits for a slot: resolves true once it holds one, false if its client left. */
  waiting: Promise<boolean> | null = null;
  /** Set by the fixture before it resets the connection itself (counted as abandoned-serving). */
  reset = false;
  /** Settles `waiting`; called by the model. */
  grant: ((ok: boolean) => void) | null = null;
  private cutWait: (() => void) | null = null;

  constructor(readonly record: FixtureRequestRecord) {}

  /** Waits `ms`, or less if the connection closes first: no timer outlives its request (or close()). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.record.endedAt !== null) return resolve();
      const timer = setTimeout(() => {
        this.cutWait = null;
        resolve();
      }, ms);
      this.cutWait = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Ends a wait in {@link Ticket.sleep}: the connection closed. */
  closed(): void {
    this.cutWait?.();
    this.cutWait = null;
  }
}

/** Closes with a ServerResponse's `close` (fires on finish and on an early hang-up). */
export interface ClosableResponse {
  once(event: 'close', listener: () => void): unknown;
  readonly writableFinished: boolean;
  readonly statusCode: number;
}

/**
 * Slots and a FIFO queue. `slots` undefined means unlimited (every request is served at once, but still
 * counted); 0 means nothing is served until the slots are raised.
 */
export class CapacityModel {
  private slots: number | undefined;
  private serving = 0;
  private readonly queue: Ticket[] = [];
  private seq = 0;
  private records: FixtureRequestRecord[] = [];
  private samples: FixtureDepthSample[] = [];
  private maxServing = 0;
  private maxQueued = 0;
  private sampler: NodeJS.Timeout | null = null;

  constructor(slots: number | undefined) {
    this.slots = slots;
  }

  /** Changes the number of slots; more slots serve waiting requests at once. */
  setSlots(slots: number | undefined): void {
    this.slots = slots;
    this.dispatch();
  }

  get queued(): number {
    return this.queue.length;
  }

  get inService(): number {
    return this.serving;
  }

  /** Every request since the start or the last reset, in order of arrival. */
  get requests(): readonly FixtureRequestRecord[] {
    return this.records;
  }

  get depthSamples(): readonly FixtureDepthSample[] {
    return this.samples;
  }

  /** Queue waits (ms) of the requests that got a slot, in order of arrival. */
  get queueWaits(): number[] {
    return this.records.filter((r) => r.startedAt !== null).map((r) => r.startedAt! - r.arrivedAt);
  }

  /**
   * Queues a request whose body has been read. Its slot is released when `res` closes, whether the answer
   * ended or the client hung up; a request still queued then leaves the queue.
   */
  arrive(endpoint: string, tag: string | null, res: ClosableResponse): Ticket {
    const at = now();
    const record: FixtureRequestRecord = {
      seq: ++this.seq,
      endpoint,
      tag,
      arrivedAt: at,
      startedAt: null,
      endedAt: null,
      status: null,
      outcome: 'queued',
    };
    this.records.push(record);
    const ticket = new Ticket(record);
    res.once('close', () => this.close(ticket, res));
    if (this.queue.length === 0 && this.hasFreeSlot()) {
      // The common case, and the only one without slots: served at once, no promise to wait on.
      this.start(record, at);
    } else {
      ticket.waiting = new Promise<boolean>((resolve) => (ticket.grant = resolve));
      this.queue.push(ticket);
      this.maxQueued = Math.max(this.maxQueued, this.queue.length);
    }
    this.startSampling();
    return ticket;
  }

  /** Forgets the records, samples and maxima (not the requests in flight); for phases of a bench. */
  reset(): void {
    this.records = this.records.filter((r) => r.outcome === 'queued' || r.outcome === 'serving');
    this.samples = [];
    this.maxServing = this.serving;
    this.maxQueued = this.queue.length;
  }

  stats(): FixtureStats {
    const count = (outcome: FixtureRequestOutcome) => this.records.filter((r) => r.outcome === outcome).length;
    const served = this.records.filter((r) => r.outcome === 'served');
    return {
      arrived: this.records.length,
      completed: served.length,
      abandonedQueued: count('abandoned-queued'),
      abandonedServing: count('abandoned-serving'),
      queued: this.queue.length,
      serving: this.serving,
      maxServing: this.maxServing,
      maxQueued: this.maxQueued,
      firstArrivalAt: this.records.length > 0 ? this.records[0].arrivedAt : null,
      lastResponseAt: served.reduce<number | null>((last, r) => Math.max(last ?? 0, r.endedAt!), null),
      queueWaitMs: summarize(this.queueWaits),
      depth: summarize(this.samples.map((s) => s.serving + s.queued)),
    };
  }

  /** Stops the sampler (the server is closing). */
  stop(): void {
    if (this.sampler !== null) clearInterval(this.sampler);
    this.sampler = null;
  }

  private hasFreeSlot(): boolean {
    return this.slots === undefined || this.serving < this.slots;
  }

  private start(record: FixtureRequestRecord, at: number): void {
    record.outcome = 'serving';
    record.startedAt = at;
    this.serving++;
    if (this.serving > this.maxServing) this.maxServing = this.serving;
  }

  private dispatch(): void {
    while (this.queue.length > 0 && this.hasFreeSlot()) {
      const next = this.queue.shift()!;
      this.start(next.record, now());
      next.grant!(true);
    }
  }

  /** Releases the slot, or the place in the queue, of a request whose connection closed. */
  private close(ticket: Ticket, res: ClosableResponse): void {
    const record = ticket.record;
    record.endedAt = now();
    ticket.closed();
    if (record.outcome === 'queued') {
      ticket.abandoned = true;
      record.outcome = 'abandoned-queued';
      this.queue.splice(this.queue.indexOf(ticket), 1);
      ticket.grant!(false);
    } else if (record.outcome === 'serving') {
      if (res.writableFinished && !ticket.reset) {
        record.outcome = 'served';
        record.status = res.statusCode;
      } else {
        ticket.abandoned = true;
        record.outcome = 'abandoned-serving';
      }
      this.serving--;
      this.dispatch();
    }
  }

  private startSampling(): void {
    if (this.sampler !== null) return;
    this.sample();
    this.sampler = setInterval(() => {
      if (this.serving + this.queue.length === 0) this.stop();
      else this.sample();
    }, DEPTH_SAMPLE_MS);
    this.sampler.unref();
  }

  private sample(): void {
    this.samples.push({ at: now(), serving: this.serving, queued: this.queue.length });
  }
}

/** Nearest-rank percentiles: the value below which p% of the series lies. */
export function summarize(values: readonly number[]): FixtureSummary {
  if (values.length === 0) return { count: 0, mean: 0, p50: 0, p95: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  return {
    count: sorted.length,
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
    p50: rank(50),
    p95: rank(95),
    max: sorted[sorted.length - 1],
  };
}

function now(): number {
  return performance.timeOrigin + performance.now();
}
