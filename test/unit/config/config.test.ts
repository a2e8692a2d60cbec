/** Pins the environment contract of DESIGN.md §5: defaults, every problem reported at once, per-process rules. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, describeVariables, loadConfig, unreadVariables } from '../../../config';

const UPSTREAM = { UPSTREAM_BASE_URL: 'http://127.0.0.1:8080/v1' };

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig(UPSTREAM, 'standalone');
    expect(c.api).toEqual({
      port: 8000,
      apiKeys: null,
      createRateLimitPerHour: 2000,
      temporalUiUrl: 'http://localhost:8233',
    });
    expect(c.tenants).toEqual([]);
    expect(c.email).toEqual({ smtpUrl: null, from: null, dashboardUrl: 'http://localhost:8000' });
    expect(c.dataDir).toBe(path.resolve('./data'));
    expect(c.temporal).toMatchObject({ address: null, namespace: 'default', taskQueue: 'batches' });
    expect(c.temporal.devServer).toMatchObject({
      port: 7233,
      uiPort: 8233,
      dbFile: path.resolve('./data/temporal.db'),
    });
    expect(c.storage).toEqual({ kind: 'local', dir: path.resolve('./data/objects') });
    expect(c.upstream.default).toEqual({
      baseUrl: 'http://127.0.0.1:8080/v1',
      apiKey: null,
      maxConcurrency: 64,
      responses: 'native',
      minConcurrency: 1,
      metricsUrl: null,
    });
    expect(c.batch).toMatchObject({
      maxRequests: 50_000,
      maxEmbeddingInputs: 50_000,
      maxLineBytes: 8 * 1024 * 1024,
      maxFileBytes: 209_715_200,
      completionWindowSeconds: 86_400,
    });
    expect(c.webhook).toEqual({ secret: null, allowInsecure: false });
  });

  it('returns a frozen object', () => {
    const c = loadConfig(UPSTREAM);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.batch)).toBe(true);
  });

  it('reports every problem at once', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', STORAGE_BACKEND: 'tape', UPSTREAM_MAX_CONCURRENCY: '0' }, 'worker');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/^PORT:/m);
    expect(problems).toMatch(/^STORAGE_BACKEND:/m);
    expect(problems).toMatch(/^UPSTREAM_MAX_CONCURRENCY:/m);
    expect(problems).toMatch(/^UPSTREAM_BASE_URL: required/m);
  });

  it('requires an upstream for the worker but not for the API', () => {
    expect(() => loadConfig({}, 'worker')).toThrow(/UPSTREAM_BASE_URL: required/);
    expect(() => loadConfig({ AUTH_DISABLED: 'true' }, 'api')).not.toThrow();
  });

  it('refuses to start the API without keys unless AUTH_DISABLED', () => {
    expect(() => loadConfig({}, 'api')).toThrow(/API_KEYS: required/);
    expect(() => loadConfig({ API_KEYS: ' , ' }, 'api')).toThrow(/API_KEYS: required/);
    expect(loadConfig({ API_KEYS: ' k1, k2 ,' }, 'api').api.apiKeys).toEqual(['k1', 'k2']);
  });

  it('defaults TEMPORAL_ADDRESS for the production processes only', () => {
    expect(loadConfig({ ...UPSTREAM }, 'worker').temporal.address).toBe('localhost:7233');
    expect(loadConfig({ ...UPSTREAM, TEMPORAL_ADDRESS: 'temporal:7233' }, 'standalone').temporal.address).toBe(
      'temporal:7233',
    );
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ ...UPSTREAM, PORT: '', API_KEYS: ' ', TEMPORAL_ADDRESS: 'temporal:7233' }).api).toEqual({
      port: 8000,
      apiKeys: null,
      createRateLimitPerHour: 2000,
      temporalUiUrl: null,
    });
  });

  it('requires GCS_BUCKET with STORAGE_BACKEND=gcs', () => {
    expect(() => loadConfig({ ...UPSTREAM, STORAGE_BACKEND: 'gcs' })).toThrow(/GCS_BUCKET/);
  });

  it('parses booleans as strings', () => {
    expect(loadConfig({ ...UPSTREAM, WEBHOOK_ALLOW_INSECURE: 'true' }).webhook.allowInsecure).toBe(true);
    expect(() => loadConfig({ ...UPSTREAM, WEBHOOK_ALLOW_INSECURE: 'maybe' })).toThrow(/WEBHOOK_ALLOW_INSECURE/);
  });

  it('reads MODEL_ROUTES as JSON or from a file', () => {
    const routes = { 'llama-3': { baseUrl: 'http://10.0.0.2:8000/v1/', maxConcurrency: 8 } };
    const inline = loadConfig({ MODEL_ROUTES: JSON.stringify(routes) }, 'worker');
    expect(inline.upstream.routes).toEqual({
      'llama-3': {
        baseUrl: 'http://10.0.0.2:8000/v1',
        apiKey: null,
        maxConcurrency: 8,
        minConcurrency: 1,
        metricsUrl: null,
        responses: 'native',
      },
    });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'routes-'));
    const file = path.join(dir, 'routes.json');
    writeFileSync(file, JSON.stringify(routes));
    expect(loadConfig({ MODEL_ROUTES: file }, 'worker').upstream.routes).toEqual(inline.upstream.routes);
    expect(() => loadConfig({ MODEL_ROUTES: '{"m": {"baseUrl": "nope"}}' }, 'worker')).toThrow(
      /MODEL_ROUTES\.m\.baseUrl/,
    );
    expect(() => loadConfig({ MODEL_ROUTES: path.join(dir, 'missing.json') }, 'worker')).toThrow(/cannot read/);
  });

  it('reads how an upstream runs /v1/responses lines: natively, or as chat completions', () => {
    const routes = { ollama: { baseUrl: 'http://10.0.0.3:11434/v1', responses: 'chat' } };
    const c = loadConfig({ ...UPSTREAM, UPSTREAM_RESPONSES_VIA_CHAT: 'true', MODEL_ROUTES: JSON.stringify(routes) });
    expect(c.upstream.default?.responses).toBe('chat');
    expect(c.upstream.routes.ollama.responses).toBe('chat');
    expect(() =>
      loadConfig({ MODEL_ROUTES: '{"m": {"baseUrl": "http://h/v1", "responses": "yes"}}' }, 'worker'),
    ).toThrow(/MODEL_ROUTES\.m\.responses/);
    expect(() => loadConfig({ ...UPSTREAM, UPSTREAM_RESPONSES_VIA_CHAT: 'sometimes' })).toThrow(
      /UPSTREAM_RESPONSES_VIA_CHAT/,
    );
  });

  it('reads the embedding-input limit of a batch', () => {
    expect(loadConfig({ ...UPSTREAM, BATCH_MAX_EMBEDDING_INPUTS: '10' }).batch.maxEmbeddingInputs).toBe(10);
    expect(() => loadConfig({ ...UPSTREAM, BATCH_MAX_EMBEDDING_INPUTS: '0' })).toThrow(/BATCH_MAX_EMBEDDING_INPUTS/);
  });

  it('reads the floor, the ceiling and the metrics endpoint of each upstream', () => {
    const env = {
      ...UPSTREAM,
      UPSTREAM_MIN_CONCURRENCY: '4',
      UPSTREAM_MAX_CONCURRENCY: '128',
      UPSTREAM_METRICS_URL: 'http://127.0.0.1:8080/metrics',
      MODEL_ROUTES: JSON.stringify({
        small: { baseUrl: 'http://10.0.0.3:8000/v1', maxConcurrency: 2 },
        big: { baseUrl: 'http://10.0.0.4:8000/v1', minConcurrency: 16, metricsUrl: 'http://10.0.0.4:8000/metrics' },
      }),
    };
    const { upstream } = loadConfig(env, 'worker');
    expect(upstream.default).toMatchObject({
      minConcurrency: 4,
      maxConcurrency: 128,
      metricsUrl: 'http://127.0.0.1:8080/metrics',
    });
    // A route inherits the floor, below its own ceiling, and names its own metrics or none.
    expect(upstream.routes.small).toMatchObject({ minConcurrency: 2, maxConcurrency: 2, metricsUrl: null });
    expect(upstream.routes.big).toMatchObject({
      minConcurrency: 16,
      maxConcurrency: 128,
      metricsUrl: 'http://10.0.0.4:8000/metrics',
    });
  });

  it('refuses a floor above the ceiling', () => {
    expect(() => loadConfig({ ...UPSTREAM, UPSTREAM_MIN_CONCURRENCY: '65' }, 'worker')).toThrow(
      /UPSTREAM_MIN_CONCURRENCY: 65 is above UPSTREAM_MAX_CONCURRENCY \(64\)/,
    );
    const routes = JSON.stringify({ m: { baseUrl: 'http://10.0.0.2:8000/v1', minConcurrency: 9, maxConcurrency: 8 } });
    expect(() => loadConfig({ MODEL_ROUTES: routes }, 'worker')).toThrow(/MODEL_ROUTES\.m\.minConcurrency/);
    expect(() => loadConfig({ ...UPSTREAM, UPSTREAM_METRICS_URL: 'nope' }, 'worker')).toThrow(/UPSTREAM_METRICS_URL/);
  });

  it('describes every variable', () => {
    const names = describeVariables().map((v) => v.name);
    for (const name of ['PORT', 'DATA_DIR', 'TEMPORAL_ADDRESS', 'UPSTREAM_BASE_URL', 'API_KEYS', 'WEBHOOK_SECRET']) {
      expect(names).toContain(name);
    }
    expect(describeVariables().every((v) => v.description.length > 0)).toBe(true);
  });
});

describe('unreadVariables', () => {
  it('names what is set but not read by the process, so that it can say so at start-up', () => {
    const env = { UPSTREAM_MAX_CONCURRENCY: '8', BATCH_CHUNK_MAX_LINES: '100', LOG_LEVEL: 'info', PORT: '' };
    expect(unreadVariables(env, 'worker')).toEqual(['BATCH_CHUNK_MAX_LINES']);
    expect(unreadVariables(env, 'api')).toEqual(['UPSTREAM_MAX_CONCURRENCY']);
    expect(unreadVariables({ ...env, TEMPORAL_UI_PORT: '9000' }, 'standalone')).toEqual([]);
    expect(unreadVariables({ TEMPORAL_UI_PORT: '9000' }, 'api')).toEqual(['TEMPORAL_UI_PORT']);
    expect(unreadVariables({ UPSTREAM_RESPONSES_VIA_CHAT: 'true', BATCH_MAX_EMBEDDING_INPUTS: '9' }, 'api')).toEqual([
      'UPSTREAM_RESPONSES_VIA_CHAT',
    ]);
    expect(unreadVariables({ UPSTREAM_RESPONSES_VIA_CHAT: 'true', BATCH_MAX_EMBEDDING_INPUTS: '9' }, 'worker')).toEqual(
      ['BATCH_MAX_EMBEDDING_INPUTS'],
    );
  });
});
