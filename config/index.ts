import * as path from 'node:path';
import { windowSeconds } from '../common/completion-windows';
import { parseTenants } from './tenants';
import type { TenantConfig } from './tenants';
import { parseModelRoutes, upstreamConfig } from './upstreams';
import type { UpstreamTarget } from './upstreams';
import { BOTH, Env } from './variables';
import type { ReadBy } from './variables';

/**
 * The one parser of the environment. Entry points call {@link loadConfig} once and hand slices of the
 * frozen result to what they build; nothing else reads `process.env`. The variables are described once,
 * in `variables.ts`; the shape of the configuration is what {@link toConfig} makes of them, and each
 * process gets the part of it that it reads ({@link ApiConfig}, {@link WorkerConfig}).
 */

export type { ReadBy } from './variables';
export type { TenantConfig } from './tenants';
export type { UpstreamTarget } from './upstreams';

/** Which process is starting: each needs a different part of the configuration to be present. */
export type Role = 'standalone' | 'api' | 'worker';

/** The configuration of `npm start`, which runs every process: all of it. */
export type Config = ReturnType<typeof toConfig>;
export type StorageConfig = Config['storage'];
/** What the API process reads. */
export type ApiConfig = Pick<
  Config,
  'role' | 'api' | 'dataDir' | 'temporal' | 'storage' | 'batch' | 'logLevel' | 'tenants'
> & {
  webhook: Pick<Config['webhook'], 'allowInsecure'>;
  /** Where the models the API lists are served. */
  upstream: Pick<Config['upstream'], 'default' | 'routes'>;
};
/** What a worker process reads. */
export type WorkerConfig = Pick<
  Config,
  'role' | 'dataDir' | 'temporal' | 'storage' | 'upstream' | 'worker' | 'webhook' | 'logLevel' | 'tenants' | 'email'
>;

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
  const cleaned = setVariables(env);
  const parsed = Env.safeParse(cleaned);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`);
  // Cross-variable rules look at the raw values, so they are reported together with the schema's problems.
  const concurrency = {
    max: parsed.data?.UPSTREAM_MAX_CONCURRENCY ?? 64,
    min: parsed.data?.UPSTREAM_MIN_CONCURRENCY ?? 1,
  };
  if (concurrency.min > concurrency.max) {
    problems.push(
      `UPSTREAM_MIN_CONCURRENCY: ${concurrency.min} is above UPSTREAM_MAX_CONCURRENCY (${concurrency.max}); the floor must not exceed the ceiling`,
    );
  }
  const routes = parseModelRoutes(cleaned.MODEL_ROUTES, concurrency, problems);
  if (role !== 'api' && !cleaned.UPSTREAM_BASE_URL && Object.keys(routes).length === 0) {
    problems.push(
      'UPSTREAM_BASE_URL: required — the OpenAI-compatible server that runs the requests, e.g. http://127.0.0.1:8080/v1',
    );
  }
  const windows = parseWindows(parsed.data?.BATCH_COMPLETION_WINDOWS ?? '24h', problems);
  if (cleaned.STORAGE_BACKEND === 'gcs' && !cleaned.GCS_BUCKET) {
    problems.push('GCS_BUCKET: required when STORAGE_BACKEND=gcs');
  }
  if (cleaned.SMTP_URL !== undefined && cleaned.EMAIL_FROM === undefined) {
    problems.push(
      'EMAIL_FROM: required with SMTP_URL — the sender of the e-mail, e.g. "Batches <batches@example.org>"',
    );
  }
  const tenants = parseTenants(cleaned.TENANTS, problems);
  const keyList = (cleaned.API_KEYS ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
  // A key listed only in API_KEYS is a tenant of its own, named by a hash of the key.
  const allKeys = [...new Set([...keyList, ...tenants.flatMap((t) => t.keys)])];
  const apiKeys = allKeys.length > 0 ? allKeys : null;
  const authDisabled = parsed.data?.AUTH_DISABLED ?? /^(true|1|yes|on)$/i.test(cleaned.AUTH_DISABLED ?? '');
  if (role === 'api' && apiKeys === null && !authDisabled) {
    problems.push(
      'API_KEYS: required for start:api, or TENANTS (or set AUTH_DISABLED=true to run without authentication)',
    );
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(toConfig(parsed.data, role, routes, { apiKeys, tenants }, windows));
}

/**
 * The variables set in `env` that a process of `role` does not read (a BATCH_CHUNK_* on a worker, an
 * UPSTREAM_* on the API): they do nothing there, which an operator should hear at start-up.
 */
export function unreadVariables(env: Record<string, string | undefined>, role: Role): string[] {
  const set = setVariables(env);
  return describeVariables()
    .filter((v) => v.name in set && !v.readBy.includes(role))
    .map((v) => v.name);
}

/** The configuration variables, their descriptions and the processes that read them, in schema order. */
export function describeVariables(): { name: string; description: string; readBy: ReadBy }[] {
  return Object.entries(Env.shape).map(([name, schema]) => ({
    name,
    description: schema.description ?? '',
    readBy: (schema.meta()?.readBy as ReadBy | undefined) ?? BOTH,
  }));
}

/** An exported-but-empty variable means "unset", as in openai-node's readEnv(). */
function setVariables(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''),
  ) as Record<string, string>;
}

/** The nested configuration the processes use, from the parsed variables. */
function toConfig(
  e: Env,
  role: Role,
  routes: Record<string, UpstreamTarget>,
  auth: { apiKeys: string[] | null; tenants: TenantConfig[] },
  windows: Record<string, number>,
) {
  const dataDir = path.resolve(e.DATA_DIR);
  const embedded = e.TEMPORAL_ADDRESS === undefined && role === 'standalone';
  return {
    role,
    api: {
      port: e.PORT,
      /** The accepted API keys (of `API_KEYS` and `TENANTS`); null when authentication is off (one tenant). */
      apiKeys: auth.apiKeys,
      /** Batch creations per key and hour; 0 for no limit. */
      createRateLimitPerHour: e.BATCH_CREATE_RATE_LIMIT_PER_HOUR,
      /** The Temporal Web UI the dashboard links to; under `npm start`, the embedded server's. */
      temporalUiUrl: trimSlash(e.TEMPORAL_UI_URL ?? (embedded ? `http://localhost:${e.TEMPORAL_UI_PORT}` : null)),
    },
    /** The named tenants of `TENANTS`. */
    tenants: auth.tenants,
    email: {
      smtpUrl: e.SMTP_URL ?? null,
      from: e.EMAIL_FROM ?? null,
      /** The dashboard the e-mail links to; under `npm start`, its own. */
      dashboardUrl: trimSlash(
        e.DASHBOARD_URL ?? (role === 'standalone' && e.PORT !== 0 ? `http://localhost:${e.PORT}` : null),
      ),
    },
    dataDir,
    temporal: {
      /** null: start the embedded dev server (standalone only). */
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
    storage: storageConfig(e, dataDir),
    upstream: upstreamConfig(e, routes),
    batch: batchConfig(e, windows),
    worker: {
      maxConcurrentActivities: e.WORKER_MAX_CONCURRENT_ACTIVITIES,
      shutdownGraceSeconds: e.WORKER_SHUTDOWN_GRACE_SECONDS,
      metricsPort: e.WORKER_METRICS_PORT,
    },
    logLevel: e.LOG_LEVEL as string,
    webhook: { secret: e.WEBHOOK_SECRET ?? null, allowInsecure: e.WEBHOOK_ALLOW_INSECURE },
  };
}

/** `1h,24h,7d` → `{ '1h': 3600, … }`; a window that is not a number of minutes, hours or days is a problem. */
function parseWindows(raw: string, problems: string[]): Record<string, number> {
  const windows: Record<string, number> = {};
  for (const w of raw
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    const seconds = windowSeconds(w);
    if (seconds === null) problems.push(`BATCH_COMPLETION_WINDOWS: '${w}' is not a window like 90m, 24h or 7d`);
    else windows[w] = seconds;
  }
  return windows;
}

function storageConfig(
  e: Env,
  dataDir: string,
): { kind: 'local'; dir: string } | { kind: 'gcs'; bucket: string; prefix: string; emulatorHost: string | null } {
  return e.STORAGE_BACKEND === 'gcs'
    ? {
        kind: 'gcs',
        bucket: e.GCS_BUCKET as string,
        prefix: e.GCS_PREFIX,
        emulatorHost: e.STORAGE_EMULATOR_HOST ?? null,
      }
    : { kind: 'local', dir: path.join(dataDir, 'objects') };
}

function batchConfig(e: Env, windows: Record<string, number>) {
  return {
    maxRequests: e.BATCH_MAX_REQUESTS,
    maxLineBytes: e.BATCH_MAX_LINE_BYTES,
    maxEmbeddingInputs: e.BATCH_MAX_EMBEDDING_INPUTS,
    maxFileBytes: e.BATCH_MAX_FILE_BYTES,
    completionWindowSeconds: e.BATCH_COMPLETION_WINDOW_SECONDS,
    /** Each accepted `completion_window` and the seconds it lasts: OpenAI's `24h` always (it lasts
     * BATCH_COMPLETION_WINDOW_SECONDS), and the configured ones. */
    completionWindows: { ...windows, '24h': e.BATCH_COMPLETION_WINDOW_SECONDS } as Readonly<Record<string, number>>,
    chunkMinLines: e.BATCH_CHUNK_MIN_LINES,
    chunkMaxLines: e.BATCH_CHUNK_MAX_LINES,
    chunkMaxBytes: e.BATCH_CHUNK_MAX_BYTES,
    chunkWindow: e.BATCH_CHUNK_WINDOW,
    chunkHeartbeatTimeoutSeconds: e.BATCH_CHUNK_HEARTBEAT_TIMEOUT_SECONDS,
  };
}

function trimSlash(url: string | null): string | null {
  return url === null ? null : url.replace(/\/+$/, '');
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
