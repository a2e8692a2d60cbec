/** Pins the per-line validation rules and OpenAI's error codes and messages for each. */
import { checkRequestLine } from '../../../../activities/jsonl/request-line';
import type { BatchEndpoint } from '../../../../common/batch';

const good = {
  custom_id: 'r1',
  method: 'POST',
  url: '/v1/chat/completions',
  body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] },
};

function check(value: unknown, endpoint: BatchEndpoint = '/v1/chat/completions') {
  return checkRequestLine(typeof value === 'string' ? value : JSON.stringify(value), endpoint);
}

describe('checkRequestLine', () => {
  it('accepts a well-formed line', () => {
    expect(check(good)).toEqual({ ok: true, line: good, model: 'm', modelNamed: true, inputs: 0 });
    expect(
      check(
        { custom_id: 'c', method: 'POST', url: '/v1/completions', body: { model: 'm', prompt: 'p' } },
        '/v1/completions',
      ).ok,
    ).toBe(true);
  });

  it.each([
    ['{oops', 'invalid_json_line', null, 'This line is not parseable as valid JSON.'],
    ['[1,2]', 'invalid_request', null, 'Each line must be a JSON object.'],
    [
      { ...good, custom_id: undefined },
      'missing_required_parameter',
      'custom_id',
      "Missing required parameter: 'custom_id'.",
    ],
    [{ ...good, method: undefined }, 'missing_required_parameter', 'method', "Missing required parameter: 'method'."],
    [{ ...good, url: undefined }, 'missing_required_parameter', 'url', "Missing required parameter: 'url'."],
    [{ ...good, body: undefined }, 'missing_required_parameter', 'body', "Missing required parameter: 'body'."],
    [{ ...good, custom_id: 7 }, 'invalid_request', 'custom_id', undefined],
    [{ ...good, method: 'GET' }, 'invalid_request', 'method', undefined],
    [
      { ...good, url: '/v1/completions' },
      'invalid_url',
      'url',
      'The URL provided for this request does not match the batch endpoint.',
    ],
    [{ ...good, body: 'text' }, 'invalid_request', 'body', undefined],
    [{ ...good, body: { messages: [] } }, 'invalid_request', 'body.model', 'Model parameter is required.'],
    [{ ...good, body: { model: 'm' } }, 'invalid_request', 'body.messages', 'Messages parameter is required.'],
    [
      { ...good, body: { ...good.body, stream: true } },
      'streaming_unsupported',
      'body.stream',
      'Chat Completions: Streaming is not supported in the Batch API.',
    ],
  ])('rejects %j with %s', (line, code, param, message) => {
    const result = check(line);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe(code);
    expect(result.error.param).toBe(param);
    if (message !== undefined) expect(result.error.message).toBe(message);
  });

  it('checks the body against the rules of the batch endpoint', () => {
    const line = { custom_id: 'e', method: 'POST', url: '/v1/embeddings', body: { model: 'e', input: ['a', 'b'] } };
    expect(check(line, '/v1/embeddings')).toEqual({ ok: true, line, model: 'e', modelNamed: true, inputs: 2 });
    expect(check({ ...line, body: { model: 'e' } }, '/v1/embeddings')).toMatchObject({
      ok: false,
      error: { code: 'invalid_request', param: 'body.input', message: 'Input parameter is required.' },
    });
  });

  it('needs a prompt for completions', () => {
    const r = check(
      { custom_id: 'c', method: 'POST', url: '/v1/completions', body: { model: 'm' } },
      '/v1/completions',
    );
    expect(r).toMatchObject({ ok: false, error: { code: 'invalid_request', param: 'body.prompt' } });
  });
});
