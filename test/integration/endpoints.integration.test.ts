/**
 * Pins the endpoints beside chat and completions end to end: a 10,000-input embeddings batch whose answers
 * are large float arrays completes with every input embedded once and in order, and the 50,000-input limit
 * holds over lines; on upstreams without `/v1/responses`, the route option and UPSTREAM_RESPONSES_VIA_CHAT
 * run responses lines as chat completions and answer Response objects, while an upstream that lacks an
 * endpoint gives error lines that say so, and the batch completes.
 */
import type OpenAI from 'openai';
import type { BatchEndpoint } from '../../common/batch';
import { startFixtureUpstream } from '../helpers/fixture-upstream';
import type { FixtureUpstream } from '../helpers/fixture-upstream';
import { createBatch, downloadLines, requestLine, startTestStack, waitForBatch } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';

jest.setTimeout(300_000);

async function runBatch(stack: TestStack, lines: Record<string, unknown>[], endpoint: BatchEndpoint) {
  const created = await createBatch(stack.client, lines, endpoint);
  const { batch } = await waitForBatch(stack.client, created.id, { timeoutMs: 240_000 });
  const output = batch.output_file_id ? await downloadLines(stack.client, batch.output_file_id) : [];
  const errors = batch.error_file_id ? await downloadLines(stack.client, batch.error_file_id) : [];
  return { batch, output, errors };
}

describe('large embeddings batches', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack.stop());

  it('embeds 10,000 inputs in 200 lines of 50, each answer ~100 KB of floats, every input once and in order', async () => {
    const words = (line: number) => Array.from({ length: 50 }, (_, k) => `w${line * 50 + k}`);
    const lines = Array.from({ length: 200 }, (_, i) =>
      requestLine(`big-${i}`, '/v1/embeddings', { input: words(i), dimensions: 96, encoding_format: 'float' }),
    );
    const { batch, output, errors } = await runBatch(stack, lines, '/v1/embeddings');
    expect(errors).toEqual([]);
    expect(batch).toMatchObject({
      status: 'completed',
      request_counts: { total: 200, completed: 200, failed: 0 },
      // One word, one fixture token, per input.
      usage: { input_tokens: 10_000, output_tokens: 0, total_tokens: 10_000 },
    });
    expect(output.map((l) => l.custom_id).sort()).toEqual(lines.map((l) => l.custom_id).sort());
    let inputs = 0;
    for (const { custom_id, response } of output) {
      const body: OpenAI.CreateEmbeddingResponse = response.body;
      expect(body.data.map((d) => d.index)).toEqual(Array.from({ length: 50 }, (_, k) => k));
      for (const d of body.data) expect(d.embedding).toHaveLength(96);
      expect(body.usage).toEqual({ prompt_tokens: 50, total_tokens: 50 });
      expect(custom_id).toMatch(/^big-\d+$/);
      inputs += body.data.length;
    }
    expect(inputs).toBe(10_000);
  });

  it('runs 50,000 inputs over lines, and fails the line that passes 50,000 without sending anything', async () => {
    const tokens = Array.from({ length: 2_000 }, () => [7]);
    const lines = (n: number) =>
      Array.from({ length: n }, (_, i) => requestLine(`l-${i}`, '/v1/embeddings', { input: tokens, dimensions: 1 }));
    const full = await runBatch(stack, lines(25), '/v1/embeddings');
    expect(full.batch).toMatchObject({ status: 'completed', usage: { input_tokens: 50_000 } });

    const before = stack.upstream.requests.length;
    const over = await runBatch(stack, lines(26), '/v1/embeddings');
    expect(over.batch.status).toBe('failed');
    expect(over.batch.errors!.data).toEqual([
      {
        code: 'too_many_inputs',
        message:
          'This line takes the batch past 50000 embedding inputs (52000 so far); an embeddings batch may hold at most 50000 inputs in all.',
        param: 'body.input',
        line: 26,
      },
    ]);
    expect(stack.upstream.requests.length).toBe(before);
  });
});

describe('upstreams without /v1/responses or /v1/moderations', () => {
  const CHAT_ONLY = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'] as const;
  let routed: FixtureUpstream;
  let stack: TestStack;
  beforeAll(async () => {
    routed = await startFixtureUpstream({ endpoints: CHAT_ONLY });
    stack = await startTestStack({
      upstream: { endpoints: CHAT_ONLY },
      env: {
        UPSTREAM_RESPONSES_VIA_CHAT: 'true',
        MODEL_ROUTES: JSON.stringify({
          'routed-chat': { baseUrl: routed.baseUrl, responses: 'chat' },
          'routed-native': { baseUrl: routed.baseUrl },
        }),
      },
    });
  });
  afterAll(async () => {
    await stack.stop();
    await routed.close();
  });

  it('runs responses lines as chat completions where told to, and says which upstream lacks the endpoint', async () => {
    const lines = [
      requestLine('default', '/v1/responses', { instructions: 'Be brief.' }),
      requestLine('route', '/v1/responses', {}, 'routed-chat'),
      requestLine('native', '/v1/responses', {}, 'routed-native'),
      requestLine('web', '/v1/responses', { tools: [{ type: 'web_search' }] }),
    ];
    const { batch, output, errors } = await runBatch(stack, lines, '/v1/responses');
    expect(batch).toMatchObject({ status: 'completed', request_counts: { total: 4, completed: 2, failed: 2 } });
    const found = Object.fromEntries([...output, ...errors].map((l) => [l.custom_id as string, l]));
    for (const id of ['default', 'route']) {
      const body: OpenAI.Responses.Response = found[id].response.body;
      expect(body).toMatchObject({ object: 'response', status: 'completed' });
      expect(body.output[0]).toMatchObject({
        type: 'message',
        content: [{ type: 'output_text', text: `echo: hello from ${id}` }],
      });
    }
    expect(found.default.response.body.instructions).toBe('Be brief.');
    // The chat usage, renamed: "Be brief. hello from default" in, "echo: hello from default" out.
    expect(batch.usage).toMatchObject({ input_tokens: 5 + 3, output_tokens: 4 + 4, total_tokens: 16 });
    expect(found.native.response.status_code).toBe(404);
    expect(found.native.response.body.error).toMatchObject({
      code: 'unsupported_endpoint',
      message: expect.stringContaining(`The upstream ${routed.baseUrl} does not serve POST /responses`),
    });
    expect(found.web).toMatchObject({ response: null, error: { code: 'untranslatable_request' } });
    expect(found.web.error.message).toContain("'web_search' tools are not translated");
    // The translated lines went to the upstreams' chat completions.
    expect(stack.upstream.requests.map((r) => r.endpoint)).toEqual(['/v1/chat/completions']);
    expect(routed.requests.map((r) => r.endpoint)).toEqual(['/v1/chat/completions']);
  });

  it('completes a moderations batch on an upstream without moderations, every line an error that says so', async () => {
    const lines = ['a', 'b', 'c'].map((id) => requestLine(id, '/v1/moderations'));
    const { batch, output, errors } = await runBatch(stack, lines, '/v1/moderations');
    expect(batch).toMatchObject({
      status: 'completed',
      output_file_id: null,
      request_counts: { total: 3, completed: 0, failed: 3 },
    });
    expect(output).toEqual([]);
    for (const line of errors) {
      expect(line.error).toBeNull();
      expect(line.response.status_code).toBe(404);
      expect(line.response.body.error).toEqual({
        message: `The upstream ${stack.upstream.baseUrl} does not serve POST /moderations: it answered 404 (Unknown route POST /v1/moderations).`,
        type: 'invalid_request_error',
        param: null,
        code: 'unsupported_endpoint',
      });
    }
  });
});
