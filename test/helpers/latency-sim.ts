import { AdaptiveLimit } from '../../upstream/adaptive-limit';
import type { AdaptiveLimitOptions, AttemptOutcome, LimitSignals } from '../../upstream/adaptive-limit';
import { mulberry32 } from './fixture-answers';
import { MinHeap } from '../../upstream/min-heap';

/**
 * An inference server and batch clients on a simulated clock, for testing {@link AdaptiveLimit} without
 * sleeps or sockets: a discrete-event simulation. The server has N slots, each request holds one for its
 * service time T (±10% seeded jitter); beyond N it queues (FIFO) or refuses with 429, as configured. Each
 * client (a worker, with its own limit) always has more lines to send and keeps `limit` requests in flight;
 * an answer frees the slot for the next. Slots and service time may change over time (functions of the ms).
 */

type Varying = number | ((t: number) => number);

export interface SimOptions {
  /** Requests served at once. */
  slots: Varying;
  /** Service time of one request, ms. */
  serviceMs: Varying;
  /** Beyond the slots: wait in a FIFO queue (vLLM, llama.cpp) or be refused at once with 429. */
  overflow?: 'queue' | 'refuse';
  /** A client gives up on a request after this long (a timeout); default 10 minutes. */
  timeoutMs?: number;
  /** The server reports its queue to every client each second, as a Prometheus scrape would. */
  reportsQueue?: boolean;
  /** Requests that someone else keeps in flight at the server, whatever it does. */
  otherLoad?: Varying;
  /**
   * Up to this many ms added to each answer on its way back: the client's own event loop, which stalls for
   * everything at once (one random lag per 10 ms of simulated time, uniform in [0, noiseMs]).
   */
  noiseMs?: number;
  /** Adaptive clients sharing the server (workers), each with its own limit; default 1. */
  clients?: number;
  seed?: number;
  limit: Omit<AdaptiveLimitOptions, 'now' | 'onChange'>;
}

/** What a client's limit showed at one of its windows' decisions (or a change between them). */
export interface SimPoint {
  t: number;
  signals: LimitSignals;
}

interface Request {
  sentAt: number;
  inFlight: number;
  done: boolean;
  client: Client | null;
}

interface Client {
  limit: AdaptiveLimit;
  inFlight: number;
  trace: SimPoint[];
}

interface Event {
  at: number;
  seq: number;
  run: () => void;
}

export class LatencySim {
  now = 0;
  /** Our requests answered with 200, refused, timed out; and every request the server finished. */
  readonly counts = { ok: 0, overload: 0, timeout: 0, served: 0 };
  /** When the server finished each request (ours and others'), in order. */
  readonly servedAt: number[] = [];
  /** Requests at the server (serving + queued), every 20 ms. */
  readonly depth: number[] = [];
  private readonly clients: Client[] = [];
  private readonly events = new MinHeap<Event>(earlier);
  private seq = 0;
  private othersInFlight = 0;
  private serving = 0;
  private readonly queue: Request[] = [];
  private readonly random: () => number;

  constructor(private readonly options: SimOptions) {
    this.random = mulberry32(options.seed ?? 1);
    for (let i = 0; i < (options.clients ?? 1); i++) {
      const client: Client = { inFlight: 0, trace: [], limit: null as unknown as AdaptiveLimit };
      client.limit = new AdaptiveLimit({
        ...options.limit,
        now: () => this.now,
        onChange: () => this.schedule(this.now, () => this.pump(client)),
      });
      this.clients.push(client);
      this.schedule(0, () => this.pump(client));
    }
    if (options.reportsQueue)
      this.every(1000, () => this.clients.forEach((c) => c.limit.serverWaiting(this.queue.length)));
    this.every(20, () => this.depth.push(this.serving + this.queue.length));
    this.every(50, () => this.topUpOthers());
  }

  /** The first client's limit. */
  get limit(): AdaptiveLimit {
    return this.clients[0].limit;
  }

  /** Every client's limit. */
  get limits(): AdaptiveLimit[] {
    return this.clients.map((c) => c.limit);
  }

  /** The first client's trace, or client `i`'s. */
  trace(i = 0): SimPoint[] {
    return this.clients[i].trace;
  }

  /** Runs the simulation up to `untilMs` of simulated time. */
  run(untilMs: number): this {
    while (this.events.size > 0 && this.events.peek()!.at <= untilMs) {
      const event = this.events.pop()!;
      this.now = event.at;
      event.run();
    }
    this.now = untilMs;
    return this;
  }

  /** Client `i`'s trace points between two times. */
  between(fromMs: number, toMs: number, i = 0): SimPoint[] {
    return this.clients[i].trace.filter((p) => p.t >= fromMs && p.t < toMs);
  }

  /** Requests the server finished between two times, over what N slots of T ms could have: 0–1. */
  utilisation(fromMs: number, toMs: number, slots: number, serviceMs: number): number {
    const served = this.servedAt.filter((t) => t >= fromMs && t < toMs).length;
    return served / (((toMs - fromMs) * slots) / serviceMs);
  }

  private pump(client: Client): void {
    while (client.inFlight < client.limit.limit) this.send(client);
  }

  private topUpOthers(): void {
    const want = value(this.options.otherLoad ?? 0, this.now);
    while (this.othersInFlight < want) this.send(null);
  }

  private send(client: Client | null): void {
    const req: Request = { sentAt: this.now, inFlight: 0, done: false, client };
    if (client !== null) req.inFlight = ++client.inFlight;
    else this.othersInFlight++;
    if (this.serving < value(this.options.slots, this.now)) this.start(req);
    else if (this.options.overflow === 'refuse') this.schedule(this.now + 1, () => this.finish(req, 'overload'));
    else this.queue.push(req);
    const timeoutMs = this.options.timeoutMs ?? 600_000;
    if (client !== null) this.schedule(this.now + timeoutMs, () => this.giveUp(req));
  }

  private start(req: Request): void {
    this.serving++;
    const jitter = 0.9 + 0.2 * this.random();
    this.schedule(this.now + value(this.options.serviceMs, this.now) * jitter, () => {
      if (req.done) return; // the client gave up and the slot was freed then
      this.counts.served++;
      this.servedAt.push(this.now);
      this.release();
      const noise = this.lag();
      if (noise > 0) this.schedule(this.now + noise, () => this.finish(req, 'ok'));
      else this.finish(req, 'ok');
    });
  }

  private lagSlot = -1;
  private lagMs = 0;
  private lag(): number {
    if (!this.options.noiseMs) return 0;
    const slot = Math.floor(this.now / 10);
    if (slot !== this.lagSlot) {
      this.lagSlot = slot;
      this.lagMs = this.options.noiseMs * this.random();
    }
    return this.lagMs;
  }

  /** A timeout: the client hangs up, which frees the slot or the place in the queue. */
  private giveUp(req: Request): void {
    if (req.done) return;
    const queued = this.queue.indexOf(req);
    if (queued >= 0) this.queue.splice(queued, 1);
    else this.release();
    this.finish(req, 'timeout');
  }

  private release(): void {
    this.serving--;
    while (this.queue.length > 0 && this.serving < value(this.options.slots, this.now)) {
      this.start(this.queue.shift()!);
    }
  }

  private finish(req: Request, outcome: AttemptOutcome): void {
    req.done = true;
    const client = req.client;
    if (client === null) {
      this.othersInFlight--;
      this.topUpOthers();
      return;
    }
    client.inFlight--;
    this.counts[outcome as 'ok' | 'overload' | 'timeout']++;
    client.limit.record(req.sentAt, req.inFlight, outcome);
    const signals = client.limit.signals();
    const last = client.trace.at(-1)?.signals;
    if (signals.windows !== last?.windows || signals.limit !== last.limit) client.trace.push({ t: this.now, signals });
    this.pump(client);
  }

  private every(ms: number, run: () => void): void {
    const tick = () => {
      run();
      this.schedule(this.now + ms, tick);
    };
    this.schedule(ms, tick);
  }

  private schedule(at: number, run: () => void): void {
    this.events.push({ at, seq: this.seq++, run });
  }
}

function earlier(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function value(v: Varying, t: number): number {
  return typeof v === 'function' ? v(t) : v;
}
