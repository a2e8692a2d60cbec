/**
 * Pins the commands of DESIGN.md §5 as a user runs them: `npm start` brings up the embedded Temporal dev
 * server, the worker and the API, stops cleanly on SIGTERM and finds its batches again after a restart;
 * `start:api` and `start:worker` run as separate processes against TEMPORAL_ADDRESS, several workers on
 * one task queue, with API keys required.
 */
import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import OpenAI from 'openai';
import { startFixtureUpstream } from '../helpers/fixture-upstream';
import type { FixtureUpstream } from '../helpers/fixture-upstream';
import { freePort } from '../helpers/ports';
import { launch } from '../helpers/processes';
import type { LaunchedProcess } from '../helpers/processes';
import { downloadLines, requestLine, testTemporal, waitForBatch, createBatch } from '../helpers/stack';

jest.setTimeout(300_000);

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function runChatBatch(client: OpenAI, n: number) {
  const lines = Array.from({ length: n }, (_, i) => requestLine(`p-${i}`, '/v1/chat/completions'));
  const created = await createBatch(client, lines);
  const { batch } = await waitForBatch(client, created.id, { timeoutMs: 120_000 });
  return { batch, lines };
}

describe('npm start', () => {
  let upstream: FixtureUpstream;
  let dataDir: string;
  let proc: LaunchedProcess | undefined;
  beforeAll(async () => {
    upstream = await startFixtureUpstream();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'npm-start-'));
  });
  afterAll(async () => {
    await proc?.kill();
    await upstream.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('runs the whole stack, stops on SIGTERM, and keeps batches across a restart', async () => {
    const ports = { api: await freePort(), temporal: await freePort(), ui: await freePort() };
    const env: Record<string, string> = {
      DATA_DIR: dataDir,
      PORT: String(ports.api),
      TEMPORAL_DEV_SERVER_PORT: String(ports.temporal),
      TEMPORAL_UI_PORT: String(ports.ui),
      UPSTREAM_BASE_URL: upstream.baseUrl,
    };
    if (process.env.TEMPORAL_CLI_PATH) env.TEMPORAL_CLI_PATH = process.env.TEMPORAL_CLI_PATH;

    proc = launch('standalone', env);
    await proc.waitFor(/Dashboard: +\S+/);
    expect(proc.output()).toContain(`Temporal Web UI:  http://localhost:${ports.ui}`);
    expect(proc.output()).toContain(`Dashboard:        http://localhost:${ports.api}/`);
    // The dashboard the build wrote, linking batches to the embedded Web UI.
    const page = await (await fetch(`http://localhost:${ports.api}/`)).text();
    expect(page).toContain(`content="http://localhost:${ports.ui}/namespaces/default/workflows/{id}"`);
    expect((await fetch(`http://localhost:${ports.api}/assets/app.js`)).status).toBe(200);
    const client = new OpenAI({ baseURL: `http://localhost:${ports.api}/v1`, apiKey: 'unused' });
    const { batch, lines } = await runChatBatch(client, 25);
    expect(batch.status).toBe('completed');
    const output = await downloadLines(client, batch.output_file_id!);
    expect(output.map((l) => l.custom_id).sort()).toEqual(lines.map((l) => l.custom_id).sort());

    expect(await proc.stop('SIGTERM')).toBe(0);
    expect(await portOpen(ports.api)).toBe(false);
    expect(await portOpen(ports.temporal)).toBe(false);

    proc = launch('standalone', env);
    await proc.waitFor(/OpenAI-compatible Batch API/);
    expect(await client.batches.retrieve(batch.id)).toEqual(batch);
    expect((await client.batches.list()).data.map((b) => b.id)).toContain(batch.id);
    const second = await runChatBatch(client, 5);
    expect(second.batch.status).toBe('completed');
    expect(await proc.stop('SIGINT')).toBe(0);
  });

  it('says in one line what is wrong with the configuration', async () => {
    const bad = launch('standalone', { DATA_DIR: dataDir, PORT: 'eighty', EMBEDDED_MODEL: 'off' });
    const code = await new Promise<number | null>((resolve) => bad.child.once('exit', resolve));
    expect(code).toBe(1);
    expect(bad.output()).toMatch(/Invalid configuration:\n {2}- PORT: .*\n {2}- UPSTREAM_BASE_URL: required/);
    expect(bad.output()).not.toMatch(/\n\s+at /);
  });
});

describe('start:api and start:worker', () => {
  let upstream: FixtureUpstream;
  let dataDir: string;
  const procs: LaunchedProcess[] = [];
  beforeAll(async () => {
    upstream = await startFixtureUpstream({ latencyMs: 5 });
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'prod-procs-'));
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    await upstream.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('run as separate processes, two workers sharing the task queue, keys required', async () => {
    const port = await freePort();
    const env = {
      DATA_DIR: dataDir,
      PORT: String(port),
      TEMPORAL_ADDRESS: testTemporal().address,
      TEMPORAL_TASK_QUEUE: `prod-${port}`,
      UPSTREAM_BASE_URL: upstream.baseUrl,
      API_KEYS: 'sk-one,sk-two',
    };
    const refused = launch('api', { ...env, API_KEYS: '' });
    expect(await new Promise((resolve) => refused.child.once('exit', resolve))).toBe(1);
    expect(refused.output()).toContain('API_KEYS: required for start:api');

    const metricsPorts = [await freePort(), await freePort()];
    for (const [i, mode] of (['worker', 'worker', 'api'] as const).entries()) {
      const p = launch(mode, mode === 'worker' ? { ...env, WORKER_METRICS_PORT: String(metricsPorts[i]) } : env);
      procs.push(p);
      await p.waitFor(mode === 'api' ? /API listening on/ : /Worker polling task queue/);
    }

    const anonymous = new OpenAI({ baseURL: `http://localhost:${port}/v1`, apiKey: 'sk-wrong' });
    await expect(anonymous.batches.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);

    const client = new OpenAI({ baseURL: `http://localhost:${port}/v1`, apiKey: 'sk-two' });
    const { batch, lines } = await runChatBatch(client, 300);
    expect(batch.request_counts).toEqual({ total: 300, completed: 300, failed: 0 });
    const output = await downloadLines(client, batch.output_file_id!);
    expect(new Set(output.map((l) => l.custom_id)).size).toBe(lines.length);

    // The other key is another tenant: it does not see this batch.
    const other = new OpenAI({ baseURL: `http://localhost:${port}/v1`, apiKey: 'sk-one' });
    await expect(other.batches.retrieve(batch.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);

    // Each worker serves its own metrics; together they counted every request once or more (a retried
    // chunk counts again), and the API counts its requests.
    const scraped = await Promise.all(metricsPorts.map((p) => scrape(`http://localhost:${p}/metrics`)));
    const completed = scraped.map((m) => sample(m, 'batch_requests_total', { outcome: 'completed' }) ?? 0);
    expect(completed[0] + completed[1]).toBeGreaterThanOrEqual(300);
    expect(sample(scraped[0], 'batch_process_resident_memory_bytes')).toBeGreaterThan(0);
    const api = await scrape(`http://localhost:${port}/metrics`);
    expect(
      sample(api, 'batch_api_requests_total', { method: 'POST', route: '/v1/batches', status: '200' }),
    ).toBeGreaterThanOrEqual(1);

    for (const p of procs) expect(await p.stop('SIGTERM')).toBe(0);

    // Logs are JSON lines with ids, never a key or the text of a request or an answer.
    for (const p of procs) {
      const lines = p
        .output()
        .split('\n')
        .filter((l) => l.trim() !== '');
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        expect(() => JSON.parse(line) as unknown).not.toThrow();
        expect(line).not.toMatch(/sk-one|sk-two|hello from|echo:/);
      }
    }
    const apiLog = procs[2]
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(apiLog).toContainEqual(
      expect.objectContaining({ msg: 'request', method: 'POST', path: '/v1/batches', batch_id: batch.id, status: 200 }),
    );
    const workerLog = procs
      .slice(0, 2)
      .flatMap((p) => p.output().split('\n'))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(workerLog).toContainEqual(expect.objectContaining({ batch_id: batch.id, msg: 'input file validated' }));
  });
});

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

/** The value of one sample of a Prometheus text exposition, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}
