/**
 * Pins STORAGE_BACKEND=gcs end to end: a whole batch (upload, validation, chunks, finalize with composed
 * result files, download) on Google Cloud Storage, through fake-gcs-server, behaves as on local disk; and
 * the real processes find the emulator through STORAGE_EMULATOR_HOST in their environment, as documented
 * (the GCS library reads that variable itself too).
 */
import { randomBytes } from 'node:crypto';
import OpenAI, { toFile } from 'openai';
import { startFakeGcs } from '../helpers/fake-gcs';
import type { FakeGcs } from '../helpers/fake-gcs';
import { startFixtureUpstream } from '../helpers/fixture-upstream';
import type { FixtureUpstream } from '../helpers/fixture-upstream';
import { freePort } from '../helpers/ports';
import { launch } from '../helpers/processes';
import type { LaunchedProcess } from '../helpers/processes';
import {
  createBatch,
  downloadLines,
  requestLine,
  startTestStack,
  testTemporal,
  uploadLines,
  waitForBatch,
} from '../helpers/stack';
import type { TestStack } from '../helpers/stack';

jest.setTimeout(120_000);

describe('a batch on GCS', () => {
  let gcs: FakeGcs;
  let stack: TestStack;
  const bucket = `batches-${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    gcs = await startFakeGcs();
    await gcs.createBucket(bucket);
    stack = await startTestStack({
      upstream: { latencyMs: 5 },
      env: {
        STORAGE_BACKEND: 'gcs',
        GCS_BUCKET: bucket,
        GCS_PREFIX: 'tenant-a/',
        STORAGE_EMULATOR_HOST: gcs.url,
        UPSTREAM_MAX_CONCURRENCY: '8',
        BATCH_MAX_FILE_BYTES: String(1024 * 1024),
      },
    });
  });
  afterAll(async () => {
    await stack.stop();
    await gcs.stop();
  });

  it('completes, with output and error files composed in the bucket', async () => {
    const { client } = stack;
    const lines = Array.from({ length: 300 }, (_, i) =>
      requestLine(`g-${i}`, '/v1/chat/completions', i % 50 === 0 ? { fixture: { status: 400 } } : {}),
    );
    const file = await uploadLines(client, lines);
    const created = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const { batch } = await waitForBatch(client, created.id);
    expect(batch).toMatchObject({ status: 'completed', request_counts: { total: 300, completed: 294, failed: 6 } });
    const output = await downloadLines(client, batch.output_file_id!);
    const errors = await downloadLines(client, batch.error_file_id!);
    expect([...output, ...errors].map((l) => l.custom_id).sort()).toEqual(lines.map((l) => l.custom_id).sort());

    // Everything lives under GCS_PREFIX in the bucket, and the parts are gone once the batch is final.
    const res = await fetch(`${gcs.url}/storage/v1/b/${bucket}/o?prefix=tenant-a/batches/${batch.id}/`);
    const names = ((await res.json()) as { items?: { name: string }[] }).items?.map((i) => i.name) ?? [];
    expect(names).toEqual([`tenant-a/batches/${batch.id}/batch.json`]);
    expect((await client.files.list()).data.map((f) => f.id)).toEqual(
      expect.arrayContaining([file.id, batch.output_file_id, batch.error_file_id]),
    );
  });

  it('refuses an oversized upload with 413 and leaves no object in the bucket', async () => {
    const objects = async () => {
      const res = await fetch(`${gcs.url}/storage/v1/b/${bucket}/o`);
      return ((await res.json()) as { items?: { name: string }[] }).items?.map((o) => o.name).sort() ?? [];
    };
    const before = await objects();
    const err = await stack.client.files
      .create({ file: await toFile(Buffer.alloc(6 * 1024 * 1024, 0x61), 'big.jsonl'), purpose: 'batch' })
      .catch((e: unknown) => e);
    expect((err as { status?: number }).status).toBe(413);
    expect(await objects()).toEqual(before);
  });
});

describe('the processes with STORAGE_EMULATOR_HOST in their environment', () => {
  let gcs: FakeGcs;
  let upstream: FixtureUpstream;
  const procs: LaunchedProcess[] = [];
  const bucket = `env-${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    gcs = await startFakeGcs();
    await gcs.createBucket(bucket);
    upstream = await startFixtureUpstream({ latencyMs: 2 });
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    await upstream.close();
    await gcs.stop();
  });

  async function runBatchThrough(port: number, prefix: string) {
    const client = new OpenAI({ baseURL: `http://localhost:${port}/v1`, apiKey: 'unused' });
    const lines = Array.from({ length: 30 }, (_, i) => requestLine(`${prefix}-${i}`, '/v1/chat/completions'));
    const created = await createBatch(client, lines);
    const { batch } = await waitForBatch(client, created.id, { timeoutMs: 120_000 });
    expect(batch.request_counts).toEqual({ total: 30, completed: 30, failed: 0 });
    const output = await downloadLines(client, batch.output_file_id!);
    expect(output.map((l) => l.custom_id).sort()).toEqual(lines.map((l) => l.custom_id).sort());
    const res = await fetch(`${gcs.url}/storage/v1/b/${bucket}/o?prefix=${prefix}/batches/${batch.id}/`);
    const names = ((await res.json()) as { items?: { name: string }[] }).items?.map((i) => i.name) ?? [];
    expect(names).toEqual([`${prefix}/batches/${batch.id}/batch.json`]);
  }

  const gcsEnv = (prefix: string) => ({
    STORAGE_BACKEND: 'gcs',
    GCS_BUCKET: bucket,
    GCS_PREFIX: prefix,
    STORAGE_EMULATOR_HOST: gcs.url,
    TEMPORAL_ADDRESS: testTemporal().address,
    TEMPORAL_TASK_QUEUE: `gcs-env-${prefix}`,
    UPSTREAM_BASE_URL: upstream.baseUrl,
    AUTH_DISABLED: 'true',
    WORKER_METRICS_PORT: '0',
  });

  it('start:api and start:worker run a batch on the emulator', async () => {
    const port = await freePort();
    const env = { ...gcsEnv('procs'), PORT: String(port) };
    for (const mode of ['worker', 'api'] as const) {
      const p = launch(mode, env);
      procs.push(p);
      await p.waitFor(mode === 'api' ? /API listening on/ : /Worker polling task queue/);
    }
    await runBatchThrough(port, 'procs');
  });

  it('npm start runs a batch on the emulator', async () => {
    const port = await freePort();
    const p = launch('standalone', { ...gcsEnv('standalone'), PORT: String(port) });
    procs.push(p);
    await p.waitFor(/OpenAI-compatible Batch API/);
    await runBatchThrough(port, 'standalone');
    // The emulator's path form (as some guides write it) works the same.
    expect(await p.stop('SIGTERM')).toBe(0);
    const again = launch('standalone', {
      ...gcsEnv('standalone'),
      PORT: String(port),
      STORAGE_EMULATOR_HOST: `${gcs.url}/storage/v1`,
    });
    procs.push(again);
    await again.waitFor(/OpenAI-compatible Batch API/);
    await runBatchThrough(port, 'standalone');
  });
});
