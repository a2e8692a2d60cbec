import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';

/**
 * The one parser of the environment. Entry points call {@link loadConfig} once and hand slices of the
 * frozen result to what they build; nothing else reads `process.env`.
 */

/** Which process is starting: each needs a different part of the configuration to be present. */
export type Role = 'standalone' | 'api' | 'worker';

/** Which processes read a variable: set it on each of them (`npm start` runs them all in one). */
export type ReadBy = readonly ('api' | 'worker' | 'standalone')[];
const API: ReadBy = ['api', 'standalone'];
const WORKER: ReadBy = ['worker', 'standalone'];
const BOTH: ReadBy = ['api', 'worker', 'standalone'];
const STANDALONE: ReadBy = ['standalone'];

const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().min(1);

const UpstreamRoute = z.object({
  baseUrl: z.url(),
  apiKey: z.string().min(1).optional(),
  maxConcurrency: z.number().int().min(1).optional(),
});

const Env = z.object({
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
  UPSTREAM_BASE_URL: z.url().optional().describe('default upstream, including /v1').meta({ readBy: WORKER }),
  UPSTREAM_API_KEY: z
    .string()
    .min(1)
    .optional()
    .describe('sent as Authorization: Bearer to the upstream')
    .meta({ readBy: WORKER }),
  UPSTREAM_MAX_CONCURRENCY: positiveInt
    .default(64)
    .describe('in-flight upstream requests per worker')
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
  MODEL_ROUTES: z
    .string()
    .min(1)
    .optional()
    .describe('JSON, or a path to a JSON file: model → upstream')
    .meta({ readBy: WORKER }),
  API_KEYS: z.string().min(1).optional().describe('comma-separated API keys, one tenant each').meta({ readBy: API }),
  AUTH_DISABLED: z.stringbool().default(false).describe('let start:api run without API_KEYS').meta({ readBy: API }),
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
  BATCH_MAX_FILE_BYTES: positiveInt.default(209_715_200).describe('largest upload').meta({ readBy: API }),
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
  WEBHOOK_ALLOW_INSECURE: z
    .stringbool()
    .default(false)
    .describe('allow http:// and private webhook targets')
    .meta({ readBy: BOTH }),
});

export interface UpstreamTarget {
  baseUrl: string;
  apiKey: string | null;
  maxConcurrency: number;
}

export type StorageConfig =
  { kind: 'local'; dir: string } | { kind: 'gcs'; bucket: string; prefix: string; emulatorHost: string | null };

export interface Config {
  role: Role;
  api: {
    port: number;
    /** The accepted API keys; null when authentication is off (one tenant). */
    apiKeys: string[] | null;
    /** Batch creations per key and hour; 0 for no limit. */
    createRateLimitPerHour: number;
  };
  dataDir: string;
  temporal: {
    /** null: start the embedded dev server (standalone only). */
    address: string | null;
    namespace: string;
    taskQueue: string;
    devServer: { cliPath: string | null; port: number; uiPort: number; dbFile: string };
  };
  storage: StorageConfig;
  upstream: {
    default: UpstreamTarget | null;
    routes: Record<string, UpstreamTarget>;
    timeoutMs: number;
    maxResponseBytes: number;
    maxAttempts: number;
  };
  batch: {
    maxRequests: number;
    maxLineBytes: number;
    maxFileBytes: number;
    completionWindowSeconds: number;
    chunkMinLines: number;
    chunkMaxLines: number;
    chunkMaxBytes: number;
    chunkWindow: number;
    chunkHeartbeatTimeoutSeconds: number;
  };
  worker: { maxConcurrentActivities: number; shutdownGraceSeconds: number; metricsPort: number };
  logLevel: string;
  webhook: { secret: string | null; allowInsecure: boolean };
}

/** Thrown by {@link loadConfig} with every problem of the environment, one per line. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses and validates the environment for `role`, and returns the frozen configuration.
 * Throws {@link ConfigError} listing every problem at once.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env, role: Role = 'standalone'): Config {
  // An exported-but-empty variable means "unset", as in openai-node's readEnv().
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''),
  ) as Record<string, string>;
  const parsed = Env.safeParse(cleaned);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`);
  // Cross-variable rules look at the raw values, so they are reported together with the schema's problems.
  const routes = parseModelRoutes(cleaned.MODEL_ROUTES, parsed.data?.UPSTREAM_MAX_CONCURRENCY ?? 64, problems);
  if (role !== 'api' && !cleaned.UPSTREAM_BASE_URL && Object.keys(routes).length === 0) {
    problems.push(
      'UPSTREAM_BASE_URL: required — the OpenAI-compatible server that runs the requests, e.g. http://127.0.0.1:8080/v1',
    );
  }
  if (cleaned.STORAGE_BACKEND === 'gcs' && !cleaned.GCS_BUCKET) {
    problems.push('GCS_BUCKET: required when STORAGE_BACKEND=gcs');
  }
  const keyList = (cleaned.API_KEYS ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
  const apiKeys = keyList.length > 0 ? keyList : null;
  const authDisabled = parsed.data?.AUTH_DISABLED ?? /^(true|1|yes|on)$/i.test(cleaned.AUTH_DISABLED ?? '');
  if (role === 'api' && apiKeys === null && !authDisabled) {
    problems.push('API_KEYS: required for start:api (or set AUTH_DISABLED=true to run without authentication)');
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  const defaultUpstream: UpstreamTarget | null = e.UPSTREAM_BASE_URL
    ? {
        baseUrl: e.UPSTREAM_BASE_URL.replace(/\/+$/, ''),
        apiKey: e.UPSTREAM_API_KEY ?? null,
        maxConcurrency: e.UPSTREAM_MAX_CONCURRENCY,
      }
    : null;

  const dataDir = path.resolve(e.DATA_DIR);
  const config: Config = {
    role,
    api: { port: e.PORT, apiKeys, createRateLimitPerHour: e.BATCH_CREATE_RATE_LIMIT_PER_HOUR },
    dataDir,
    temporal: {
      address: e.TEMPORAL_ADDRESS ?? (role === 'standalone' ? null : 'localhost:7233'),
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      devServer: {
        cliPath: e.TEMPORAL_CLI_PATH ?? null,
        port: e.TEMPORAL_DEV_SERVER_PORT,
        uiPort: e.TEMPORAL_UI_PORT,
        dbFile: path.join(dataDir, 'temporal.db'),
      },
    },
    storage:
      e.STORAGE_BACKEND === 'gcs'
        ? {
            kind: 'gcs',
            bucket: e.GCS_BUCKET as string,
            prefix: e.GCS_PREFIX,
            emulatorHost: e.STORAGE_EMULATOR_HOST ?? null,
          }
        : { kind: 'local', dir: path.join(dataDir, 'objects') },
    upstream: {
      default: defaultUpstream,
      routes,
      timeoutMs: e.UPSTREAM_TIMEOUT_SECONDS * 1000,
      maxResponseBytes: e.UPSTREAM_MAX_RESPONSE_BYTES,
      maxAttempts: e.UPSTREAM_MAX_ATTEMPTS,
    },
    batch: {
      maxRequests: e.BATCH_MAX_REQUESTS,
      maxLineBytes: e.BATCH_MAX_LINE_BYTES,
      maxFileBytes: e.BATCH_MAX_FILE_BYTES,
      completionWindowSeconds: e.BATCH_COMPLETION_WINDOW_SECONDS,
      chunkMinLines: e.BATCH_CHUNK_MIN_LINES,
      chunkMaxLines: e.BATCH_CHUNK_MAX_LINES,
      chunkMaxBytes: e.BATCH_CHUNK_MAX_BYTES,
      chunkWindow: e.BATCH_CHUNK_WINDOW,
      chunkHeartbeatTimeoutSeconds: e.BATCH_CHUNK_HEARTBEAT_TIMEOUT_SECONDS,
    },
    worker: {
      maxConcurrentActivities: e.WORKER_MAX_CONCURRENT_ACTIVITIES,
      shutdownGraceSeconds: e.WORKER_SHUTDOWN_GRACE_SECONDS,
      metricsPort: e.WORKER_METRICS_PORT,
    },
    logLevel: e.LOG_LEVEL,
    webhook: { secret: e.WEBHOOK_SECRET ?? null, allowInsecure: e.WEBHOOK_ALLOW_INSECURE },
  };
  return deepFreeze(config);
}

function parseModelRoutes(
  raw: string | undefined,
  defaultConcurrency: number,
  problems: string[],
): Record<string, UpstreamTarget> {
  if (raw === undefined) return {};
  let text = raw;
  if (!raw.trimStart().startsWith('{')) {
    try {
      text = readFileSync(raw, 'utf8');
    } catch (err) {
      problems.push(`MODEL_ROUTES: cannot read file '${raw}': ${(err as Error).message}`);
      return {};
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    problems.push('MODEL_ROUTES: not valid JSON');
    return {};
  }
  const result = z.record(z.string().min(1), UpstreamRoute).safeParse(json);
  if (!result.success) {
    for (const i of result.error.issues) problems.push(`MODEL_ROUTES.${i.path.join('.')}: ${i.message}`);
    return {};
  }
  return Object.fromEntries(
    Object.entries(result.data).map(([model, r]) => [
      model,
      {
        baseUrl: r.baseUrl.replace(/\/+$/, ''),
        apiKey: r.apiKey ?? null,
        maxConcurrency: r.maxConcurrency ?? defaultConcurrency,
      },
    ]),
  );
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** The configuration variables, their descriptions and the processes that read them, in schema order. */
export function describeVariables(): { name: string; description: string; readBy: ReadBy }[] {
  return Object.entries(Env.shape).map(([name, schema]) => ({
    name,
    description: schema.description ?? '',
    readBy: (schema.meta()?.readBy as ReadBy | undefined) ?? BOTH,
  }));
}
