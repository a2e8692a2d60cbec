/**
 * Pins graceful shutdown: a stopping API finishes the requests in flight (an upload half sent) and then
 * refuses new connections; a stopping worker lets its running chunk flush what finished, so the worker
 * that takes the batch over resends almost nothing upstream (a `kill -9`, by contrast, loses up to a
 * flush interval of answers).
 */
import { request } from 'node:http';
import OpenAI from 'openai';
import { startApiServer } from '../../api/server';
import { startTestStack, requestLine, testTelemetry, waitForBatch, downloadLines, createBatch } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';

jest.setTimeout(120_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a stopping API', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack.stop());

  it('finishes an upload in flight, then refuses connections', async () => {
    const boundary = 'drain-boundary';
    const content = Array.from({ length: 50 }, (_, i) => JSON.stringify(requestLine(`d-${i}`, '/v1/completions')))
      .join('\n')
      .concat('\n');
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="drain.jsonl"\r\nContent-Type: application/jsonl\r\n\r\n`;
    const tail = `\r\n--${boundary}--\r\n`;
    const half = Math.floor(content.length / 2);

    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${stack.api.url}/v1/files`,
        { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.write(head + content.slice(0, half));
      // The rest comes after the API was told to stop.
      void sleep(500).then(() => req.end(content.slice(half) + tail));
    });
    await sleep(200);
    let stopped = false;
    const stopping = stack.api.stop().then(() => (stopped = true));
    await sleep(50);
    // Not stopped while the upload is still arriving, and no new connection is accepted meanwhile.
    expect(stopped).toBe(false);
    await expect(fetch(`${stack.api.url}/healthz`)).rejects.toThrow();

    const res = await response;
    expect(res.status).toBe(200);
    const file = JSON.parse(res.body) as { id: string; bytes: number };
    expect(file.bytes).toBe(Buffer.byteLength(content));
    await stopping;

    // What it stored is whole: another API process serves it.
    const { logger, registry } = testTelemetry();
    const api = await startApiServer(stack.config, stack.temporalAddress, { logger, registry });
    try {
      const client = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: 'unused' });
      expect(await (await client.files.content(file.id)).text()).toBe(content);
    } finally {
      await api.stop();
    }
  });
});

describe('a stopping worker', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      upstream: { latencyMs: 100 },
      env: { UPSTREAM_MAX_CONCURRENCY: '4', WORKER_SHUTDOWN_GRACE_SECONDS: '1', BATCH_CHUNK_MAX_LINES: '1000' },
    });
  });
  afterAll(() => stack.stop());

  it('lets its chunk flush, so the next worker resends almost nothing', async () => {
    const { client } = stack;
    const lines = Array.from({ length: 300 }, (_, i) => requestLine(`s-${i}`, '/v1/chat/completions'));
    const created = await createBatch(client, lines);
    while (stack.upstream.requestCount < 60) await sleep(20);

    const stopStarted = Date.now();
    await stack.worker.stop();
    const stopSeconds = (Date.now() - stopStarted) / 1000;
    const sentBeforeStop = stack.upstream.requestCount;
    expect(sentBeforeStop).toBeLessThan(300);

    await stack.addWorker();
    const { batch } = await waitForBatch(client, created.id);
    expect(batch.status).toBe('completed');
    const output = await downloadLines(client, batch.output_file_id!);
    expect(output.map((l) => l.custom_id).sort()).toEqual(lines.map((l) => l.custom_id).sort());

    // Resent: at most the requests in flight when the chunk stopped, and answers past the flushed prefix.
    const repeats = [...stack.upstream.seen.values()].reduce((n, count) => n + count - 1, 0);
    console.log(`worker stopped in ${stopSeconds.toFixed(1)} s after ${sentBeforeStop} requests; ${repeats} resent`);
    expect(repeats).toBeLessThanOrEqual(2 * 4);
  });
});
