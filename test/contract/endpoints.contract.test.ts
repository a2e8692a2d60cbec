/**
 * Pins the endpoints OpenAI batches beside chat and completions, with the `openai` npm client: embeddings,
 * responses and moderations batches are created, complete and download as OpenAI writes them (the upstream's
 * body untouched), the Batch's `usage` is summed from each endpoint's own usage shape and its `model` set
 * (a moderations batch whose first line names no model: `omni-moderation-latest`); a file that mixes urls
 * fails on the line that differs, and sends nothing upstream.
 */
import type OpenAI from 'openai';
import { createBatch, downloadLines, requestLine, startTestStack, waitForBatch } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';

jest.setTimeout(60_000);

const EMB = '/v1/embeddings';
const RESP = '/v1/responses';
const MOD = '/v1/moderations';

type Line = Record<string, any>;
const byId = (lines: Line[]) => Object.fromEntries(lines.map((l) => [l.custom_id as string, l]));
const sum = (lines: Line[], get: (usage: Record<string, any>) => number) =>
  lines.reduce((total, l) => total + get(l.response.body.usage), 0);

describe('embeddings, responses and moderations batches', () => {
  let stack: TestStack;
  let client: OpenAI;
  beforeAll(async () => {
    stack = await startTestStack();
    client = stack.client;
  });
  afterAll(() => stack.stop());

  /** What the fixture upstream answers to a body sent to it directly. */
  async function direct(path: string, body: unknown): Promise<Line> {
    const res = await fetch(`${stack.upstream.baseUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
    return (await res.json()) as Line;
  }

  it('runs an embeddings batch: every input shape, the bodies as the upstream wrote them, usage summed', async () => {
    const lines = [
      requestLine('e-1', EMB),
      requestLine('e-2', EMB, { input: ['one two', 'three'] }),
      requestLine('e-3', EMB, { input: [1, 2, 3, 4] }),
      requestLine('e-4', EMB, { input: [[1, 2], [3]], dimensions: 4 }),
      requestLine('e-5', EMB, { encoding_format: 'base64' }),
    ];
    const created = await createBatch(client, lines, EMB);
    expect(created).toMatchObject({ endpoint: EMB, status: 'validating' });
    const { batch } = await waitForBatch(client, created.id);
    // Words are the fixture's tokens: 3 + 3 + 4 token ids + 3 token ids + 3.
    expect(batch).toMatchObject({
      status: 'completed',
      model: 'fixture-model',
      request_counts: { total: 5, completed: 5, failed: 0 },
      error_file_id: null,
      usage: {
        input_tokens: 16,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: 0,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 16,
      },
    });
    const output = await downloadLines(client, batch.output_file_id!);
    const found = byId(output);
    for (const line of lines) {
      const { response, error, id } = found[line.custom_id as string];
      expect(error).toBeNull();
      expect(id).toMatch(/^batch_req_/);
      expect(response.status_code).toBe(200);
      // Embeddings answers carry no id or time: the line's body is exactly the upstream's.
      expect(response.body).toEqual(await direct('/embeddings', line.body));
    }
    const two: OpenAI.CreateEmbeddingResponse = found['e-2'].response.body;
    expect(two.data.map((d) => d.index)).toEqual([0, 1]);
    expect(found['e-4'].response.body.data[0].embedding).toHaveLength(4);
    expect(typeof found['e-5'].response.body.data[0].embedding).toBe('string');
  });

  it('runs a responses batch: Response objects, usage summed from input and output tokens', async () => {
    const lines = [
      requestLine('r-1', RESP),
      requestLine('r-2', RESP, { instructions: 'Answer briefly.', max_output_tokens: 16 }),
      requestLine('r-3', RESP, {
        input: [{ role: 'user', content: [{ type: 'input_text', text: 'what is batching' }] }],
      }),
    ];
    const { batch } = await waitForBatch(client, (await createBatch(client, lines, RESP)).id);
    expect(batch).toMatchObject({ status: 'completed', model: 'fixture-model', request_counts: { completed: 3 } });
    const output = await downloadLines(client, batch.output_file_id!);
    for (const { response } of output) {
      const body: OpenAI.Responses.Response = response.body;
      expect(body).toMatchObject({ object: 'response', status: 'completed', model: 'fixture-model' });
      expect(body.output[0]).toMatchObject({ type: 'message', role: 'assistant' });
    }
    expect(byId(output)['r-3'].response.body.output[0].content[0].text).toBe('echo: what is batching');
    // "hello from r-1" in, "echo: hello from r-1" out; the instructions count as input.
    expect(batch.usage).toEqual({
      input_tokens: sum(output, (u) => u.input_tokens),
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: sum(output, (u) => u.output_tokens),
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: sum(output, (u) => u.total_tokens),
    });
    expect(batch.usage).toMatchObject({ input_tokens: 3 + 5 + 3, output_tokens: 4 + 4 + 4 });
  });

  it('runs a moderations batch, with and without a model, and counts no tokens', async () => {
    const unnamed = (id: string, input: unknown) => ({ custom_id: id, method: 'POST', url: MOD, body: { input } });
    const lines = [
      unnamed('m-1', 'a text'),
      unnamed('m-2', ['one', 'two']),
      unnamed('m-3', [
        { type: 'text', text: 'a picture' },
        { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
      ]),
      requestLine('m-4', MOD, {}, 'omni-moderation-2024-09-26'),
    ];
    const { batch } = await waitForBatch(client, (await createBatch(client, lines, MOD)).id);
    expect(batch).toMatchObject({
      status: 'completed',
      model: 'omni-moderation-latest',
      request_counts: { total: 4, completed: 4, failed: 0 },
      usage: { input_tokens: 0, output_tokens: 0, total_tokens: 0 },
    });
    const output = byId(await downloadLines(client, batch.output_file_id!));
    const two: OpenAI.ModerationCreateResponse = output['m-2'].response.body;
    expect(two.results).toHaveLength(2);
    // A line without a model goes upstream without one: the upstream's default answers.
    expect(output['m-1'].response.body.model).toBe('omni-moderation-latest');
    expect(output['m-4'].response.body.model).toBe('omni-moderation-2024-09-26');
    const { id, ...rest } = output['m-3'].response.body as Line;
    const { id: directId, ...directRest } = await direct('/moderations', lines[2].body);
    expect([id, directId]).toEqual([expect.stringMatching(/^modr-/), expect.stringMatching(/^modr-/)]);
    expect(rest).toEqual(directRest);

    const named = await createBatch(client, [requestLine('n-1', MOD, {}, 'text-moderation-stable')], MOD);
    expect((await waitForBatch(client, named.id)).batch.model).toBe('text-moderation-stable');
  });

  it('fails a file whose lines mix urls on the line that differs, and sends nothing upstream', async () => {
    const before = stack.upstream.requests.length;
    const lines = [
      requestLine('x-1', EMB),
      requestLine('x-2', EMB),
      requestLine('x-3', '/v1/chat/completions'),
      requestLine('x-4', EMB),
    ];
    const { batch } = await waitForBatch(client, (await createBatch(client, lines, EMB)).id);
    expect(batch.status).toBe('failed');
    expect(batch.errors!.data).toEqual([
      {
        code: 'invalid_url',
        message: 'The URL provided for this request does not match the batch endpoint.',
        param: 'url',
        line: 3,
      },
    ]);
    expect(stack.upstream.requests.length).toBe(before);
  });
});
