/**
 * Pins `npm start` with no upstream, on a fresh data directory: it runs the embedded model (a real small
 * language model) and batches complete on it — chat, completions, embeddings, and responses through the
 * chat translation, with OpenAI's shapes, usage and finish_reason (never the words); moderations, which it
 * does not serve, are error lines that say so — lists it at `/v1/models`, refuses other models, restarts
 * the model server when it dies, and stops it with everything else.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import OpenAI from 'openai';
import type { BatchEndpoint } from '../../common/batch';
import { MODEL_ID } from '../../model/contract';
import { freePort } from '../helpers/ports';
import { launch } from '../helpers/processes';
import type { LaunchedProcess } from '../helpers/processes';
import { createBatch, downloadLines, testTemporal, waitForBatch } from '../helpers/stack';

jest.setTimeout(600_000);

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

/** The model server processes whose parent is `parentPid`. */
function modelServers(parentPid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
      if (cmdline.includes('model/server.mjs') && ppid === parentPid) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

const line = (id: string, url: '/v1/chat/completions' | '/v1/completions', model = MODEL_ID) => ({
  custom_id: id,
  method: 'POST',
  url,
  body:
    url === '/v1/chat/completions'
      ? { model, messages: [{ role: 'user', content: `Say hello to ${id}.` }], max_tokens: 8, temperature: 0 }
      : { model, prompt: `The colour of the sky is`, max_tokens: 8, temperature: 0 },
});

/** Embeddings, responses (run as chat completions: npm start sets UPSTREAM_RESPONSES_VIA_CHAT) and moderations. */
async function endpointBatches(client: OpenAI, modelPort: number): Promise<void> {
  const run = async (lines: Record<string, unknown>[], endpoint: BatchEndpoint) => {
    const { batch } = await waitForBatch(client, (await createBatch(client, lines, endpoint)).id, {
      timeoutMs: 300_000,
    });
    expect(batch).toMatchObject({ status: 'completed', request_counts: { total: lines.length } });
    return batch;
  };
  const lineOf = (id: string, url: BatchEndpoint, body: Record<string, unknown>) => ({
    custom_id: id,
    method: 'POST',
    url,
    body: { model: MODEL_ID, ...body },
  });

  const embeddings = await run(
    ['a', 'b'].map((id) => lineOf(`emb-${id}`, '/v1/embeddings', { input: [`colour ${id}`, 'sky'] })),
    '/v1/embeddings',
  );
  expect(embeddings).toMatchObject({ model: MODEL_ID, request_counts: { completed: 2 }, usage: { output_tokens: 0 } });
  expect(embeddings.usage!.input_tokens).toBeGreaterThan(0);
  expect(embeddings.usage!.total_tokens).toBe(embeddings.usage!.input_tokens);
  for (const { response } of await downloadLines(client, embeddings.output_file_id!)) {
    const body: OpenAI.CreateEmbeddingResponse = response.body;
    expect(body.object).toBe('list');
    expect(body.data.map((d) => d.index)).toEqual([0, 1]);
    expect(body.data[0].embedding.length).toBeGreaterThan(0);
  }

  const responses = await run(
    ['a', 'b'].map((id) =>
      lineOf(`resp-${id}`, '/v1/responses', {
        instructions: 'Answer in one word.',
        input: `Say hello to ${id}.`,
        max_output_tokens: 8,
        temperature: 0,
      }),
    ),
    '/v1/responses',
  );
  expect(responses).toMatchObject({ model: MODEL_ID, request_counts: { completed: 2 } });
  expect(responses.usage!.input_tokens).toBeGreaterThan(0);
  expect(responses.usage!.output_tokens).toBeGreaterThan(0);
  for (const { response } of await downloadLines(client, responses.output_file_id!)) {
    const body: OpenAI.Responses.Response = response.body;
    expect(body).toMatchObject({ object: 'response', model: MODEL_ID, instructions: 'Answer in one word.' });
    expect(['completed', 'incomplete']).toContain(body.status);
    const message = body.output.find((item) => item.type === 'message');
    expect(message).toMatchObject({ role: 'assistant', content: [{ type: 'output_text' }] });
    expect(body.usage!.output_tokens).toBeGreaterThan(0);
  }

  const moderations = await run([lineOf('mod-a', '/v1/moderations', { input: 'hello' })], '/v1/moderations');
  expect(moderations).toMatchObject({ output_file_id: null, request_counts: { failed: 1 } });
  const [error] = await downloadLines(client, moderations.error_file_id!);
  expect(error.response.status_code).toBe(404);
  expect(error.response.body.error).toMatchObject({
    code: 'unsupported_endpoint',
    message: expect.stringContaining(`The upstream http://127.0.0.1:${modelPort}/v1 does not serve POST /moderations`),
  });
}

describe('npm start with no upstream', () => {
  let dataDir: string;
  let proc: LaunchedProcess | undefined;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'embedded-model-'));
  });
  afterAll(async () => {
    await proc?.kill();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('runs batches on the embedded model, restarts it when it dies, and stops it on SIGTERM', async () => {
    const ports = { api: await freePort(), model: await freePort() };
    proc = launch('standalone', {
      DATA_DIR: dataDir,
      PORT: String(ports.api),
      TEMPORAL_ADDRESS: testTemporal().address,
      TEMPORAL_TASK_QUEUE: `embedded-${ports.api}`,
      EMBEDDED_MODEL_PORT: String(ports.model),
      ...(process.env.EMBEDDED_MODEL_CACHE_DIR
        ? { EMBEDDED_MODEL_CACHE_DIR: process.env.EMBEDDED_MODEL_CACHE_DIR }
        : {}),
    });
    await proc.waitFor(/OpenAI-compatible Batch API/, 300_000);
    expect(proc.output()).toContain(`Embedded model:   ${MODEL_ID} at http://127.0.0.1:${ports.model}/v1`);
    const client = new OpenAI({ baseURL: `http://localhost:${ports.api}/v1`, apiKey: 'unused' });
    expect((await client.models.list()).data.map((m) => m.id)).toContain(MODEL_ID);

    for (const url of ['/v1/chat/completions', '/v1/completions'] as const) {
      const lines = ['a', 'b', 'c'].map((id) => line(`${url}-${id}`, url));
      const created = await createBatch(client, lines, url);
      const { batch } = await waitForBatch(client, created.id, { timeoutMs: 300_000 });
      expect(batch).toMatchObject({ status: 'completed', model: MODEL_ID, request_counts: { total: 3, completed: 3 } });
      expect(batch.usage!.input_tokens).toBeGreaterThan(0);
      expect(batch.usage!.output_tokens).toBeGreaterThan(0);
      const output = await downloadLines(client, batch.output_file_id!);
      expect(output.map((l) => l.custom_id).sort()).toEqual(lines.map((l) => l.custom_id).sort());
      for (const { response } of output) {
        expect(response.status_code).toBe(200);
        expect(response.body.object).toBe(url === '/v1/chat/completions' ? 'chat.completion' : 'text_completion');
        expect(['stop', 'length']).toContain(response.body.choices[0].finish_reason);
        expect(response.body.usage.prompt_tokens).toBeGreaterThan(0);
        expect(response.body.usage.completion_tokens).toBeGreaterThan(0);
      }
    }

    await endpointBatches(client, ports.model);

    // A model it does not serve is refused at validation, as at OpenAI.
    const refused = await createBatch(client, [line('other', '/v1/chat/completions', 'gpt-4o')]);
    const { batch: failed } = await waitForBatch(client, refused.id);
    expect(failed.errors!.data![0]).toMatchObject({ code: 'model_not_found', line: 1, param: 'body.model' });

    // The model server dies: the launcher starts another, and batches go on.
    const [server] = modelServers(proc.child.pid!);
    expect(server).toBeGreaterThan(0);
    process.kill(server, 'SIGKILL');
    await proc.waitFor(/The embedded model server is back/, 300_000);
    const again = await createBatch(client, [line('again', '/v1/chat/completions')]);
    expect((await waitForBatch(client, again.id, { timeoutMs: 300_000 })).batch.status).toBe('completed');

    expect(await proc.stop('SIGTERM')).toBe(0);
    expect(await portOpen(ports.model)).toBe(false);
    expect(await portOpen(ports.api)).toBe(false);
    expect(modelServers(proc.child.pid!)).toEqual([]);
  });
});
