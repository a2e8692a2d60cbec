/**
 * Pins the validation of embeddings, responses and moderations lines, with the `openai` npm client: each
 * bad line fails the batch with its own `errors.data` entry (OpenAI's codes and words, the line, `param` at
 * the field), good lines have none, the embedding inputs of all lines are held to BATCH_MAX_EMBEDDING_INPUTS,
 * and a batch that fails validation sends nothing upstream.
 */
import type OpenAI from 'openai';
import type { BatchEndpoint } from '../../common/batch';
import { createBatch, requestLine, startTestStack, waitForBatch } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';

jest.setTimeout(60_000);

const EMB = '/v1/embeddings';
const RESP = '/v1/responses';
const MOD = '/v1/moderations';

const line = (endpoint: BatchEndpoint, body: Record<string, unknown>) => ({
  custom_id: 'bad',
  method: 'POST',
  url: endpoint,
  body,
});
const invalidType = (field: string, expected: string, got: string) =>
  `Invalid type for '${field}': expected ${expected}, but got ${got} instead.`;
const EMBEDDING_INPUT = 'a string, an array of strings, an array of token ids or an array of token-id arrays';

describe('validation of embeddings, responses and moderations lines', () => {
  let stack: TestStack;
  let client: OpenAI;
  beforeAll(async () => {
    stack = await startTestStack({ env: { BATCH_MAX_EMBEDDING_INPUTS: '10' } });
    client = stack.client;
  });
  afterAll(() => stack.stop());

  async function errorsOf(lines: Record<string, unknown>[], endpoint: BatchEndpoint) {
    const before = stack.upstream.requests.length;
    const { batch } = await waitForBatch(client, (await createBatch(client, lines, endpoint)).id);
    expect(batch).toMatchObject({ status: 'failed', output_file_id: null, error_file_id: null });
    expect(stack.upstream.requests.length).toBe(before);
    return batch.errors!.data!;
  }

  it.each<[string, BatchEndpoint, Record<string, unknown>, string, string, string]>([
    [
      'embeddings without a model',
      EMB,
      { input: 'x' },
      'invalid_request',
      'body.model',
      'Model parameter is required.',
    ],
    ['embeddings without input', EMB, { model: 'm' }, 'invalid_request', 'body.input', 'Input parameter is required.'],
    [
      'embeddings of an empty string',
      EMB,
      { model: 'm', input: '' },
      'invalid_request',
      'body.input',
      "Invalid 'input': empty string. Expected a string with minimum length 1, but got an empty string instead.",
    ],
    [
      'embeddings of an empty array',
      EMB,
      { model: 'm', input: [] },
      'invalid_request',
      'body.input',
      "Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array instead.",
    ],
    [
      'embeddings of an object',
      EMB,
      { model: 'm', input: { text: 'x' } },
      'invalid_request',
      'body.input',
      invalidType('input', EMBEDDING_INPUT, 'an object'),
    ],
    [
      'embeddings of mixed strings and token ids',
      EMB,
      { model: 'm', input: ['a', 1] },
      'invalid_request',
      'body.input',
      invalidType('input[1]', 'a string, as every item of the array', 'an integer'),
    ],
    [
      'embeddings streamed',
      EMB,
      { model: 'm', input: 'x', stream: true },
      'streaming_unsupported',
      'body.stream',
      'Embeddings: Streaming is not supported in the Batch API.',
    ],
    [
      'responses without a model',
      RESP,
      { input: 'x' },
      'invalid_request',
      'body.model',
      'Model parameter is required.',
    ],
    ['responses without input', RESP, { model: 'm' }, 'invalid_request', 'body.input', 'Input parameter is required.'],
    [
      'responses of a number',
      RESP,
      { model: 'm', input: 42 },
      'invalid_request',
      'body.input',
      invalidType('input', 'a string or an array of input items', 'an integer'),
    ],
    [
      'responses streamed',
      RESP,
      { model: 'm', input: 'x', stream: true },
      'streaming_unsupported',
      'body.stream',
      'Responses: Streaming is not supported in the Batch API.',
    ],
    [
      'responses in the background',
      RESP,
      { model: 'm', input: 'x', background: true },
      'invalid_request',
      'body.background',
      'Responses: Background mode is not supported in the Batch API.',
    ],
    ['moderations without input', MOD, {}, 'invalid_request', 'body.input', 'Input parameter is required.'],
    [
      'moderations of an empty array',
      MOD,
      { input: [] },
      'invalid_request',
      'body.input',
      "Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array instead.",
    ],
    [
      'moderations of a number',
      MOD,
      { input: 42 },
      'invalid_request',
      'body.input',
      invalidType('input', 'a string, an array of strings or an array of multi-modal inputs', 'an integer'),
    ],
    [
      'moderations streamed',
      MOD,
      { input: 'x', stream: true },
      'streaming_unsupported',
      'body.stream',
      'Moderations: Streaming is not supported in the Batch API.',
    ],
    [
      'moderations naming a model that is not a name',
      MOD,
      { model: 7, input: 'x' },
      'invalid_request',
      'body.model',
      'Model parameter is required.',
    ],
  ])('reports %s on its line', async (_name, endpoint, body, code, param, message) => {
    const errors = await errorsOf([requestLine('good', endpoint), line(endpoint, body)], endpoint);
    expect(errors).toEqual([{ code, message, param, line: 2 }]);
  });

  it('gives every bad line its own entry and good lines none', async () => {
    const lines = [
      requestLine('ok-1', RESP),
      line(RESP, { input: 'x' }),
      requestLine('ok-2', RESP),
      { ...line(RESP, { model: 'm' }), custom_id: 'bad-2' },
      { ...line(RESP, { model: 'm', input: 'x', stream: true }), custom_id: 'bad-3' },
      requestLine('ok-3', RESP),
    ];
    const errors = await errorsOf(lines, RESP);
    expect(errors.map((e) => [e.line, e.code, e.param])).toEqual([
      [2, 'invalid_request', 'body.model'],
      [4, 'invalid_request', 'body.input'],
      [5, 'streaming_unsupported', 'body.stream'],
    ]);
  });

  it('holds the embedding inputs of all lines to BATCH_MAX_EMBEDDING_INPUTS, on the line that passes it', async () => {
    const four = ['a', 'b', 'c', 'd'];
    const within = [requestLine('w-1', EMB, { input: four }), requestLine('w-2', EMB, { input: [...four, 'e', 'f'] })];
    const ok = await waitForBatch(client, (await createBatch(client, within, EMB)).id);
    expect(ok.batch).toMatchObject({ status: 'completed', request_counts: { completed: 2 } });

    const lines = [
      requestLine('t-1', EMB, { input: four }),
      requestLine('t-2', EMB, { input: [[1, 2], [3], [4], [5]] }),
      requestLine('t-3', EMB, { input: [1, 2, 3] }),
      requestLine('t-4', EMB, { input: four }),
      requestLine('t-5', EMB, { input: 'one more' }),
    ];
    expect(await errorsOf(lines, EMB)).toEqual([
      {
        code: 'too_many_inputs',
        message:
          'This line takes the batch past 10 embedding inputs (13 so far); an embeddings batch may hold at most 10 inputs in all.',
        param: 'body.input',
        line: 4,
      },
    ]);
  });
});
