import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export { Registry } from 'prom-client';

/**
 * Prometheus metrics. Each process makes one registry; `npm start` runs the API and a worker in one process
 * and shares it, so `GET /metrics` of the API shows both.
 */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'batch_' });
  return registry;
}

/** The state of an upstream, read when metrics are scraped. */
export interface UpstreamState {
  baseUrl: string;
  limit: number;
  inFlight: number;
  /** The signals of the adaptive limit (null before it knows). */
  ceiling?: number;
  noLoadRttMs?: number | null;
  recentRttMs?: number | null;
  queueEstimate?: number | null;
  serverWaiting?: number | null;
}

/** What the worker counts: requests, upstream answers and latency, chunks, batches. */
export function createWorkerMetrics(registry: Registry, upstreams: () => UpstreamState[] = () => []) {
  return {
    requests: new Counter({
      name: 'batch_requests_total',
      help: 'Batch requests that ended, by outcome (completed: in the output file; failed: in the error file)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    upstreamResponses: new Counter({
      name: 'batch_upstream_responses_total',
      help: 'Upstream answers by upstream and HTTP status (or "error" when there was none), retries included',
      labelNames: ['upstream', 'status'] as const,
      registers: [registry],
    }),
    upstreamLatency: new Histogram({
      name: 'batch_upstream_request_duration_seconds',
      help: 'Time from sending a request upstream to its complete answer',
      labelNames: ['upstream'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    }),
    upstreamInFlight: new Gauge({
      name: 'batch_upstream_in_flight',
      help: 'Upstream requests in flight now',
      labelNames: ['upstream'] as const,
      registers: [registry],
      collect() {
        for (const u of upstreams()) this.set({ upstream: u.baseUrl }, u.inFlight);
      },
    }),
    upstreamLimit: new Gauge({
      name: 'batch_upstream_concurrency_limit',
      help: 'Current adaptive concurrency limit of each upstream, between UPSTREAM_MIN_ and UPSTREAM_MAX_CONCURRENCY',
      labelNames: ['upstream'] as const,
      registers: [registry],
      collect() {
        for (const u of upstreams()) this.set({ upstream: u.baseUrl }, u.limit);
      },
    }),
    ...upstreamSignalGauges(registry, upstreams),
    chunks: new Counter({
      name: 'batch_chunks_total',
      help: 'Chunk activity attempts that ended, by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    chunkRetries: new Counter({
      name: 'batch_chunk_retries_total',
      help: 'Chunk activity attempts that resumed a chunk an earlier attempt left (a crash, a shutdown, an unreachable upstream)',
      registers: [registry],
    }),
    batches: new Counter({
      name: 'batch_batches_finished_total',
      help: 'Batches that reached a terminal status, by status and tenant',
      labelNames: ['status', 'tenant'] as const,
      registers: [registry],
    }),
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

/** The signals the adaptive limit follows, one gauge each; an upstream without a value has no series. */
function upstreamSignalGauges(registry: Registry, upstreams: () => UpstreamState[]) {
  const gauge = (name: string, help: string, read: (u: UpstreamState) => number | null | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['upstream'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const u of upstreams()) {
          const value = read(u);
          if (value !== null && value !== undefined) this.set({ upstream: u.baseUrl }, value);
        }
      },
    });
  const seconds = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : ms / 1000);
  return {
    upstreamCeiling: gauge(
      'batch_upstream_concurrency_ceiling',
      "The ceiling of the adaptive limit: UPSTREAM_MAX_CONCURRENCY, or this worker's share of a budget",
      (u) => u.ceiling,
    ),
    upstreamNoLoadRtt: gauge(
      'batch_upstream_no_load_rtt_seconds',
      'Round trip of an upstream request without queueing, as the adaptive limit last measured it',
      (u) => seconds(u.noLoadRttMs),
    ),
    upstreamRecentRtt: gauge(
      'batch_upstream_recent_rtt_seconds',
      'Average round trip of the last window of upstream answers (one round of the limit)',
      (u) => seconds(u.recentRttMs),
    ),
    upstreamQueueEstimate: gauge(
      'batch_upstream_queue_estimate',
      'Requests the adaptive limit estimates are waiting at the upstream (from latency, or its metrics if more)',
      (u) => u.queueEstimate,
    ),
    upstreamServerWaiting: gauge(
      'batch_upstream_server_waiting',
      'Requests the upstream itself reports waiting (vLLM, SGLang, llama.cpp metrics), where a metrics URL is set',
      (u) => u.serverWaiting,
    ),
  };
}

/** What the API counts: HTTP requests, and batches by status (read from Temporal visibility when scraped). */
export function createApiMetrics(
  registry: Registry,
  countByStatus?: () => Promise<Record<string, number>>,
  countAtRisk?: () => Promise<number>,
) {
  const metrics = {
    httpRequests: new Counter({
      name: 'batch_api_requests_total',
      help: 'API requests by route, method and status code',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    httpLatency: new Histogram({
      name: 'batch_api_request_duration_seconds',
      help: 'API request duration',
      labelNames: ['method', 'route'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
      registers: [registry],
    }),
    batchesByStatus: new Gauge({
      name: 'batch_batches',
      help: 'Batches by status, as Temporal visibility counts them (search attribute BatchStatus)',
      labelNames: ['status'] as const,
      registers: [registry],
      async collect() {
        if (countByStatus === undefined) return;
        try {
          const counts = await countByStatus();
          for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
        } catch {
          // Visibility unavailable: leave the last values.
        }
      },
    }),
    batchesAtRisk: new Gauge({
      name: 'batch_batches_at_risk',
      help: 'Running batches that, at the pace they run, would not finish before their deadline (BatchAtRisk)',
      registers: [registry],
      async collect() {
        if (countAtRisk === undefined) return;
        try {
          this.set(await countAtRisk());
        } catch {
          // Visibility unavailable: leave the last value.
        }
      },
    }),
  };
  return metrics;
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;
