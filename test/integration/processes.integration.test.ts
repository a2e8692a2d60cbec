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
import { downloadLines, requestLine, testTemporal, uploadLines, waitForBatch } from '../helpers/stack';

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
  const file = await uploadLines(client, lines);
  const created = await client.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
  });
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
    await proc.waitFor(/OpenAI-compatible Batch API: (\S+)/);
    expect(proc.output()).toContain(`Temporal Web UI:  http://localhost:${ports.ui}`);
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
    const bad = launch('standalone', { DATA_DIR: dataDir, PORT: 'eighty' });
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

    for (const mode of ['worker', 'worker', 'api'] as const) {
      const p = launch(mode, env);
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

    for (const p of procs) expect(await p.stop('SIGTERM')).toBe(0);
  });
});
