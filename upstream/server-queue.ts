import { request } from 'undici';

/**
 * The gauges inference servers export for requests waiting to be scheduled: vLLM's
 * `vllm:num_requests_waiting`, SGLang's `sglang:num_queue_reqs`, llama.cpp server's `llamacpp:requests_deferred`
 * (with `--metrics`). A server exports one of them, once per model or engine (labels); they are summed.
 */
export const WAITING_GAUGES: readonly string[] = [
  'vllm:num_requests_waiting',
  'sglang:num_queue_reqs',
  'llamacpp:requests_deferred',
];

/** How often the server is asked while requests are in flight, and how long one answer may take. */
const SCRAPE_INTERVAL_MS = 1_000;
const SCRAPE_TIMEOUT_MS = 1_000;
/** Largest metrics page read (vLLM's is tens of KB). */
const MAX_PAGE_BYTES = 4 * 1024 * 1024;

/**
 * The requests waiting, read from a Prometheus text page: the sum of the {@link WAITING_GAUGES} samples, or
 * null when the page has none of them.
 */
export function waitingFromMetrics(text: string): number | null {
  let total: number | null = null;
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    const end = line.search(/[{ ]/);
    if (end < 0 || !WAITING_GAUGES.includes(line.slice(0, end))) continue;
    // `name{labels} value [timestamp]`: the value follows the labels (which may hold spaces in quotes).
    const afterLabels = line[end] === '{' ? line.slice(line.lastIndexOf('}') + 1) : line.slice(end);
    const value = Number(afterLabels.trim().split(/\s+/)[0]);
    if (Number.isFinite(value)) total = (total ?? 0) + value;
  }
  return total;
}

export interface ServerQueueOptions {
  url: string;
  /** Whether requests are in flight: the server is asked only then. */
  busy: () => boolean;
  /** Each reading: the requests waiting, or null when the page could not be read or has no known gauge. */
  onReading: (waiting: number | null, error: string | null) => void;
}

/**
 * Reads an upstream's waiting requests from its Prometheus endpoint every second while requests are in
 * flight ({@link ServerQueueWatch.wake} on each send starts it; it stops itself when nothing is in flight).
 */
export class ServerQueueWatch {
  private timer: NodeJS.Timeout | null = null;
  private scraping = false;
  private closed = false;

  constructor(private readonly options: ServerQueueOptions) {}

  /** Requests are being sent: read the server every second until they are done. */
  wake(): void {
    if (this.timer !== null || this.closed) return;
    this.timer = setInterval(() => this.tick(), SCRAPE_INTERVAL_MS);
    this.timer.unref();
    this.tick();
  }

  close(): void {
    this.closed = true;
    this.stop();
  }

  private stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    if (!this.options.busy()) return this.stop();
    if (this.scraping) return; // a slow server: one scrape at a time
    this.scraping = true;
    void scrape(this.options.url)
      .then(
        (waiting) =>
          this.options.onReading(waiting, waiting === null ? `none of ${WAITING_GAUGES.join(', ')} found` : null),
        (err: unknown) => this.options.onReading(null, err instanceof Error ? err.message : String(err)),
      )
      .finally(() => {
        this.scraping = false;
      });
  }
}

async function scrape(url: string): Promise<number | null> {
  const res = await request(url, {
    headersTimeout: SCRAPE_TIMEOUT_MS,
    bodyTimeout: SCRAPE_TIMEOUT_MS,
    signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS),
  });
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new Error(`HTTP ${res.statusCode}`);
  }
  const length = Number(res.headers['content-length'] ?? 0);
  if (length > MAX_PAGE_BYTES) {
    await res.body.dump();
    throw new Error(`a metrics page of ${length} bytes`);
  }
  return waitingFromMetrics(await res.body.text());
}
