import { z } from 'zod';

/**
 * Every variable of the environment, once: its type and default, what it means, and which processes read
 * it. The README's configuration table is pinned to this (test/unit/config/readme.test.ts).
 */

/** Which processes read a variable: set it on each of them (`npm start` runs them all in one). */
export type ReadBy = readonly ('api' | 'worker' | 'standalone')[];
export const API: ReadBy = ['api', 'standalone'];
export const WORKER: ReadBy = ['worker', 'standalone'];
export const BOTH: ReadBy = ['api', 'worker', 'standalone'];
export const STANDALONE: ReadBy = ['standalone'];

const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().min(1);

/** How an upstream runs `/v1/responses` lines: itself, or (a server without that route) as chat completions. */
export const RESPONSES_MODES = ['native', 'chat'] as const;

export const UpstreamRoute = z.object({
  baseUrl: z.url(),
  apiKey: z.string().min(1).optional(),
  /** This upstream's ceiling and floor of concurrency (default UPSTREAM_MAX_/MIN_CONCURRENCY). */
  maxConcurrency: z.number().int().min(1).optional(),
  /** `chat`: send `/v1/responses` lines to this upstream's `/chat/completions`, translated both ways. */
  responses: z.enum(RESPONSES_MODES).optional(),
  minConcurrency: z.number().int().min(1).optional(),
  /** Its Prometheus endpoint, whose count of waiting requests the limit reads (vLLM, SGLang, llama.cpp). */
  metricsUrl: z.url().optional(),
});

export const Env = z.object({
  PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(8000)
    .describe('API port (0 picks a free one)')
    .meta({ readBy: API }),
  DATA_DIR: z
    .string()
    .min(1)
    .default('./data')
    .describe('local storage and the embedded Temporal database')
    .meta({ readBy: BOTH }),
  TEMPORAL_ADDRESS: z
    .string()
    .min(1)
    .optional()
    .describe('Temporal frontend host:port; unset under npm start = embedded dev server')
    .meta({ readBy: BOTH }),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default').describe('Temporal namespace').meta({ readBy: BOTH }),
  TEMPORAL_TASK_QUEUE: z
    .string()
    .min(1)
    .default('batches')
    .describe('task queue of the batch workflows')
    .meta({ readBy: BOTH }),
  TEMPORAL_CLI_PATH: z
    .string()
    .min(1)
    .optional()
    .describe('the temporal CLI for the embedded dev server')
    .meta({ readBy: STANDALONE }),
  TEMPORAL_DEV_SERVER_PORT: port
    .default(7233)
    .describe('frontend port of the embedded dev server')
    .meta({ readBy: STANDALONE }),
  TEMPORAL_UI_PORT: port.default(8233).describe('Web UI port of the embedded dev server').meta({ readBy: STANDALONE }),
  STORAGE_BACKEND: z.enum(['local', 'gcs']).default('local').describe('local or gcs').meta({ readBy: BOTH }),
  GCS_BUCKET: z.string().min(1).optional().describe('bucket when STORAGE_BACKEND=gcs').meta({ readBy: BOTH }),
  GCS_PREFIX: z.string().default('').describe('key prefix inside the bucket').meta({ readBy: BOTH }),
  STORAGE_EMULATOR_HOST: z
    .url()
    .optional()
    .describe('a GCS emulator (fake-gcs-server) instead of GCS')
    .meta({ readBy: BOTH }),
  UPSTREAM_BASE_URL: z
    .url()
    .optional()
    .describe('default upstream, including /v1 (the API lists its models)')
    .meta({ readBy: BOTH }),
  UPSTREAM_API_KEY: z
    .string()
    .min(1)
    .optional()
    .describe('sent as Authorization: Bearer to the upstream')
    .meta({ readBy: BOTH }),
  UPSTREAM_MAX_CONCURRENCY: positiveInt
    .default(64)
    .describe(
      'ceiling of in-flight requests to an upstream, for all workers together; the adaptive limit stays below it',
    )
    .meta({ readBy: WORKER }),
  UPSTREAM_MIN_CONCURRENCY: positiveInt
    .default(1)
    .describe('floor of the adaptive limit of in-flight upstream requests per worker')
    .meta({ readBy: WORKER }),
  UPSTREAM_METRICS_URL: z
    .url()
    .optional()
    .describe("the default upstream's Prometheus endpoint: its waiting requests are a signal of the adaptive limit")
    .meta({ readBy: WORKER }),
  UPSTREAM_TIMEOUT_SECONDS: positiveInt
    .default(600)
    .describe('deadline of one upstream request, from sending it to the last byte of the answer; then it is retried')
    .meta({ readBy: WORKER }),
  UPSTREAM_MAX_RESPONSE_BYTES: positiveInt
    .default(128 * 1024 * 1024)
    .describe('largest answer body taken from an upstream; a larger one is an error line, not retried')
    .meta({ readBy: WORKER }),
  UPSTREAM_MAX_ATTEMPTS: positiveInt
    .default(8)
    .describe('attempts per request on retryable upstream failures')
    .meta({ readBy: WORKER }),
  UPSTREAM_RESPONSES_VIA_CHAT: z
    .stringbool()
    .default(false)
    .describe('send /v1/responses lines to the default upstream as chat completions, translated both ways')
    .meta({ readBy: WORKER }),
  MODEL_ROUTES: z
    .string()
    .min(1)
    .optional()
    .describe('JSON, or a path to a JSON file: model → upstream')
    .meta({ readBy: BOTH }),
  EMBEDDED_MODEL: z
    .enum(['auto', 'off'])
    .default('auto')
    .describe('auto: npm start runs the embedded model when neither UPSTREAM_BASE_URL nor MODEL_ROUTES is set')
    .meta({ readBy: STANDALONE }),
  EMBEDDED_MODEL_PORT: port
    .default(8090)
    .describe('port of the embedded model server (127.0.0.1 only)')
    .meta({ readBy: STANDALONE }),
  API_KEYS: z.string().min(1).optional().describe('comma-separated API keys, one tenant each').meta({ readBy: API }),
  TENANTS: z
    .string()
    .min(1)
    .optional()
    .describe('JSON, or a path to a JSON file: tenant name → {keys, email?, weight?}; turns authentication on')
    .meta({ readBy: BOTH }),
  AUTH_DISABLED: z
    .stringbool()
    .default(false)
    .describe('let start:api run without API_KEYS or TENANTS')
    .meta({ readBy: API }),
  TEMPORAL_UI_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe("the Temporal Web UI, for the dashboard's link to a batch's workflow")
    .meta({ readBy: API }),
  BATCH_CREATE_RATE_LIMIT_PER_HOUR: z.coerce
    .number()
    .int()
    .min(0)
    .default(2000)
    .describe('batches one API key may create per hour, per API process (0: no limit)')
    .meta({ readBy: API }),
  BATCH_MAX_LINE_BYTES: positiveInt
    .default(8 * 1024 * 1024)
    .describe('longest request line of an input file; longer lines are line errors')
    .meta({ readBy: API }),
  BATCH_MAX_REQUESTS: positiveInt
    .default(50_000)
    .describe('most request lines in one input file')
    .meta({ readBy: API }),
  BATCH_MAX_EMBEDDING_INPUTS: positiveInt
    .default(50_000)
    .describe('most embedding inputs of an /v1/embeddings batch, over all its lines')
    .meta({ readBy: API }),
  BATCH_MAX_FILE_BYTES: positiveInt.default(209_715_200).describe('largest upload').meta({ readBy: API }),
  BATCH_COMPLETION_WINDOWS: z
    .string()
    .default('24h')
    .describe('the completion windows a batch may ask for, e.g. 1h,24h,7d; earliest deadline first between them')
    .meta({ readBy: BOTH }),
  BATCH_COMPLETION_WINDOW_SECONDS: positiveInt
    .default(86_400)
    .describe('what the 24h window lasts')
    .meta({ readBy: API }),
  BATCH_CHUNK_MIN_LINES: positiveInt
    .default(1000)
    .describe('fewest requests in one chunk activity (BATCH_CHUNK_MAX_LINES wins when lower)')
    .meta({ readBy: API }),
  BATCH_CHUNK_MAX_LINES: positiveInt
    .default(10_000)
    .describe('most requests in one chunk activity')
    .meta({ readBy: API }),
  BATCH_CHUNK_MAX_BYTES: positiveInt
    .default(32 * 1024 * 1024)
    .describe('most input bytes in one chunk activity')
    .meta({ readBy: API }),
  BATCH_CHUNK_WINDOW: positiveInt
    .default(8)
    .describe('chunk activities in flight per batch; a batch is cut into twice as many chunks')
    .meta({ readBy: API }),
  BATCH_CHUNK_HEARTBEAT_TIMEOUT_SECONDS: positiveInt
    .default(30)
    .describe('a chunk whose worker is silent this long is retried on another worker')
    .meta({ readBy: API }),
  WORKER_MAX_CONCURRENT_ACTIVITIES: positiveInt
    .default(100)
    .describe('activities one worker runs at once')
    .meta({ readBy: WORKER }),
  WORKER_SHUTDOWN_GRACE_SECONDS: positiveInt
    .default(30)
    .describe('a stopping worker lets running chunks go on this long, then they flush and stop')
    .meta({ readBy: WORKER }),
  WORKER_METRICS_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(9464)
    .describe('port of the worker process /metrics (0: none); under npm start the API serves them')
    .meta({ readBy: WORKER }),
  LOG_LEVEL: z
    .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
    .default('info')
    .describe('log level')
    .meta({ readBy: BOTH }),
  WEBHOOK_SECRET: z
    .string()
    .min(1)
    .optional()
    .describe('whsec_… secret for Standard Webhooks signatures')
    .meta({ readBy: WORKER }),
  SMTP_URL: z
    .url({ protocol: /^smtps?$/ })
    .optional()
    .describe('smtp://user:pass@host:port or smtps://…: e-mail when a batch ends (none without it)')
    .meta({ readBy: WORKER }),
  EMAIL_FROM: z
    .string()
    .min(3)
    .optional()
    .describe('the From of the e-mail, e.g. "Batches <batches@example.org>"; required with SMTP_URL')
    .meta({ readBy: WORKER }),
  DASHBOARD_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe('where people open the dashboard, for the link in the e-mail')
    .meta({ readBy: WORKER }),
  WEBHOOK_ALLOW_INSECURE: z
    .stringbool()
    .default(false)
    .describe('allow http:// and private webhook targets')
    .meta({ readBy: BOTH }),
});

export type Env = z.output<typeof Env>;
