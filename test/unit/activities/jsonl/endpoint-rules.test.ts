/**
 * Pins what each batch endpoint asks of a line's body: the required model and content field, the shapes
 * of `input` the `openai` package's params types allow, streaming and background refused, each problem
 * with its code, message and `param`; and the facts a valid line gives (its model, embedding inputs).
 */
import { checkBody, DEFAULT_MODERATION_MODEL } from '../../../../activities/jsonl/endpoint-rules';
import type { BatchEndpoint } from '../../../../common/batch';

const EMB = '/v1/embeddings';
const RESP = '/v1/responses';
const MOD = '/v1/moderations';

const problem = (param: string, message: string, code = 'invalid_request') => ({ code, message, param });

describe('checkBody', () => {
  it.each<[BatchEndpoint, Record<string, unknown>, number]>([
    [EMB, { model: 'e', input: 'one text' }, 1],
    [EMB, { model: 'e', input: ['a', 'b', 'c'] }, 3],
    [EMB, { model: 'e', input: [1, 2, 3, 4] }, 1],
    [EMB, { model: 'e', input: [[1, 2], [3], [0, 5, 6]] }, 3],
  ])('counts the embedding inputs of %s %j', (endpoint, body, inputs) => {
    expect(checkBody(endpoint, body)).toEqual({ model: 'e', modelNamed: true, inputs });
  });

  it.each<[string, unknown, ReturnType<typeof problem>]>([
    ['no input', undefined, problem('body.input', 'Input parameter is required.')],
    [
      'an empty string',
      '',
      problem(
        'body.input',
        "Invalid 'input': empty string. Expected a string with minimum length 1, but got an empty string instead.",
      ),
    ],
    [
      'an empty array',
      [],
      problem(
        'body.input',
        "Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      ),
    ],
    [
      'an object',
      { text: 'x' },
      problem(
        'body.input',
        "Invalid type for 'input': expected a string, an array of strings, an array of token ids or an array of token-id arrays, but got an object instead.",
      ),
    ],
    [
      'an empty string among strings',
      ['a', ''],
      problem(
        'body.input',
        "Invalid 'input[1]': empty string. Expected a string with minimum length 1, but got an empty string instead.",
      ),
    ],
    [
      'strings and numbers mixed',
      ['a', 2],
      problem(
        'body.input',
        "Invalid type for 'input[1]': expected a string, as every item of the array, but got an integer instead.",
      ),
    ],
    [
      'a token that is not an integer',
      [1, 2.5],
      problem(
        'body.input',
        "Invalid type for 'input[1]': expected a token id (an integer of at least 0), but got a number instead.",
      ),
    ],
    [
      'an empty token array',
      [[1], []],
      problem(
        'body.input',
        "Invalid 'input[1]': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      ),
    ],
    [
      'a token array with a string in it',
      [[1], [2, 'x']],
      problem(
        'body.input',
        "Invalid type for 'input[1][1]': expected a token id (an integer of at least 0), but got a string instead.",
      ),
    ],
  ])('refuses an embeddings input of %s', (_name, input, expected) => {
    expect(checkBody(EMB, { model: 'e', input })).toEqual(expected);
  });

  it('needs a model for embeddings and responses, but not for moderations', () => {
    for (const endpoint of [EMB, RESP] as const) {
      expect(checkBody(endpoint, { input: 'x' })).toEqual(problem('body.model', 'Model parameter is required.'));
    }
    expect(checkBody(MOD, { input: 'x' })).toEqual({ model: DEFAULT_MODERATION_MODEL, modelNamed: false, inputs: 0 });
    expect(checkBody(MOD, { model: 'omni-moderation-2024-09-26', input: 'x' })).toEqual({
      model: 'omni-moderation-2024-09-26',
      modelNamed: true,
      inputs: 0,
    });
    // A model that is named must be a name.
    expect(checkBody(MOD, { model: 7, input: 'x' })).toEqual(problem('body.model', 'Model parameter is required.'));
  });

  it.each<[BatchEndpoint, string]>([
    ['/v1/chat/completions', 'Chat Completions'],
    ['/v1/completions', 'Completions'],
    [EMB, 'Embeddings'],
    [RESP, 'Responses'],
    [MOD, 'Moderations'],
  ])('refuses stream: true on %s', (endpoint, name) => {
    expect(checkBody(endpoint, { model: 'm', stream: true, input: 'x', messages: [], prompt: 'p' })).toEqual(
      problem('body.stream', `${name}: Streaming is not supported in the Batch API.`, 'streaming_unsupported'),
    );
  });

  it('accepts the Responses API input shapes and refuses background mode', () => {
    const items = [
      { role: 'user', content: [{ type: 'input_text', text: 'hi' }] },
      { type: 'reasoning', id: 'rs_1' },
    ];
    for (const input of ['hi', items]) {
      expect(checkBody(RESP, { model: 'r', input })).toEqual({ model: 'r', modelNamed: true, inputs: 0 });
    }
    expect(checkBody(RESP, { model: 'r', input: 'hi', background: false })).toMatchObject({ model: 'r' });
    expect(checkBody(RESP, { model: 'r', input: 'hi', background: true })).toEqual(
      problem('body.background', 'Responses: Background mode is not supported in the Batch API.'),
    );
    expect(checkBody(RESP, { model: 'r' })).toEqual(problem('body.input', 'Input parameter is required.'));
    expect(checkBody(RESP, { model: 'r', input: ['hi'] })).toEqual(
      problem(
        'body.input',
        "Invalid type for 'input': expected a string or an array of input items, but got an array instead.",
      ),
    );
  });

  it('accepts the moderation input shapes', () => {
    const parts = [
      { type: 'text', text: 'a' },
      { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
    ];
    for (const input of ['a', ['a', 'b'], parts]) expect(checkBody(MOD, { input })).toMatchObject({ inputs: 0 });
    expect(checkBody(MOD, {})).toEqual(problem('body.input', 'Input parameter is required.'));
    expect(checkBody(MOD, { input: 3 })).toEqual(
      problem(
        'body.input',
        "Invalid type for 'input': expected a string, an array of strings or an array of multi-modal inputs, but got an integer instead.",
      ),
    );
  });
});
