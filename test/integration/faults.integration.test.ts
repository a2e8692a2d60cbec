/**
 * Pins what an operator meets under faults, with real processes: a batch's status never goes back while
 * Temporal is unreachable (503 instead), and the partial upload of an API killed mid-upload is removed
 * when an API starts again.
 */
import { request } from 'node:http';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import OpenAI from 'openai';
import { startTemporalDevServer } from '../../standalone/temporal-dev-server';
import type { RunningDevServer } from '../../standalone/temporal-dev-server';
import { startFixtureUpstream } from '../helpers/fixture-upstream';
import type { FixtureUpstream } from '../helpers/fixture-upstream';
import { freePort } from '../helpers/ports';
import { launch } from '../helpers/processes';
import type { LaunchedProcess } from '../helpers/processes';
import { createBatch, requestLine, testTemporal, waitForBatch } from '../helpers/stack';

jest.setTimeout(300_000);

const ORDER = ['validating', 'in_progress', 'finalizing', 'completed'];

async function until(check: () => Promise<boolean> | boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a running batch while Temporal is unreachable', () => {
  let upstream: FixtureUpstream;
  let dataDir: string;
  let temporal: RunningDevServer | undefined;
  const procs: LaunchedProcess[] = [];
  beforeAll(async () => {
    upstream = await startFixtureUpstream({ latencyMs: 40 });
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'outage-'));
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    await temporal?.stop();
    await upstream.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('is answered with 503, never with an older status, and completes once Temporal is back', async () => {
    const devServer = {
      cliPath: process.env.TEMPORAL_CLI_PATH ?? null,
      port: await freePort(),
      uiPort: null,
      dbFile: path.join(dataDir, 'temporal.db'),
      namespace: 'default',
    };
    temporal = await startTemporalDevServer(devServer);
    const port = await freePort();
    const env = {
      DATA_DIR: dataDir,
      PORT: String(port),
      TEMPORAL_ADDRESS: temporal.address,
      UPSTREAM_BASE_URL: upstream.baseUrl,
      UPSTREAM_MAX_CONCURRENCY: '4',
      BATCH_CHUNK_MAX_LINES: '20',
      WORKER_METRICS_PORT: '0',
      AUTH_DISABLED: 'true',
    };
    for (const mode of ['worker', 'api'] as const) {
      const p = launch(mode, env);
      procs.push(p);
      await p.waitFor(mode === 'api' ? /API listening on/ : /Worker polling task queue/);
    }
    // No retries: every answer of the outage is seen as it is.
    const client = new OpenAI({ baseURL: `http://localhost:${port}/v1`, apiKey: 'unused', maxRetries: 0 });
    const lines = Array.from({ length: 400 }, (_, i) => requestLine(`o-${i}`, '/v1/chat/completions'));
    const created = await createBatch(client, lines);
    let seen = await client.batches.retrieve(created.id);
    await until(async () => {
      seen = await client.batches.retrieve(created.id);
      return seen.status === 'in_progress' && seen.request_counts!.completed > 0;
    });

    await temporal.stop();
    const answers: (string | number)[] = [];
    for (let i = 0; i < 2; i++) {
      for (const read of [() => client.batches.retrieve(created.id), () => client.batches.list()]) {
        const answer = await read().catch((err: unknown) => err);
        if (answer instanceof OpenAI.APIError) {
          answers.push(answer.status ?? 0);
          expect(answer.error).toMatchObject({ type: expect.any(String), message: expect.any(String) });
        } else {
          const batch = 'data' in (answer as object) ? (answer as { data: OpenAI.Batch[] }).data[0] : answer;
          answers.push((batch as OpenAI.Batch).status);
        }
      }
    }
    console.log('answers while Temporal was down:', answers.join(', '));
    for (const answer of answers) {
      if (typeof answer === 'number') expect(answer).toBe(503);
      else expect(ORDER.indexOf(answer)).toBeGreaterThanOrEqual(ORDER.indexOf(seen.status));
    }

    temporal = await startTemporalDevServer(devServer);
    const retrying = new OpenAI({ baseURL: `http://localhost:${port}/v1`, apiKey: 'unused', maxRetries: 10 });
    const { batch } = await waitForBatch(retrying, created.id, { timeoutMs: 200_000 });
    expect(batch.status).toBe('completed');
    expect(batch.request_counts).toEqual({ total: 400, completed: 400, failed: 0 });
  });
});

describe('an API killed during an upload', () => {
  let dataDir: string;
  const procs: LaunchedProcess[] = [];
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'killed-upload-'));
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    await rm(dataDir, { recursive: true, force: true });
  });

  /** The temporary files under DATA_DIR/objects/.tmp, with their sizes. */
  async function temporaryFiles(): Promise<Map<string, number>> {
    const root = path.join(dataDir, 'objects', '.tmp');
    const files = new Map<string, number>();
    for (const dir of await readdir(root).catch(() => [] as string[])) {
      for (const name of await readdir(path.join(root, dir)).catch(() => [] as string[])) {
        files.set(`${dir}/${name}`, (await stat(path.join(root, dir, name))).size);
      }
    }
    return files;
  }

  it('leaves no partial file once an API starts again', async () => {
    const port = await freePort();
    const env = {
      DATA_DIR: dataDir,
      PORT: String(port),
      TEMPORAL_ADDRESS: testTemporal().address,
      AUTH_DISABLED: 'true',
    };
    const first = launch('api', env);
    procs.push(first);
    await first.waitFor(/API listening on/);

    // A multipart upload that sends its first megabyte and then waits, as a slow client would.
    const boundary = 'killed-upload-boundary';
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/v1/files',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    });
    req.on('error', () => undefined);
    req.write(`--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n`);
    req.write(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    );
    req.write(Buffer.alloc(1024 * 1024, 0x61));
    await until(async () => [...(await temporaryFiles()).values()].some((size) => size > 0));
    const partial = [...(await temporaryFiles()).keys()];

    await first.kill();
    req.destroy();
    expect(await temporaryFiles()).not.toEqual(new Map());

    const second = launch('api', env);
    procs.push(second);
    await second.waitFor(/API listening on/);
    await second.waitFor(/removed the temporary files of interrupted writes/);
    const left = [...(await temporaryFiles()).keys()];
    expect(left.filter((name) => partial.includes(name))).toEqual([]);
    expect(await second.stop('SIGTERM')).toBe(0);
  });
});
