/** Pins the output and error line format of OpenAI's batch files, and how usage is read from responses. */
import { errorLine, parseUpstreamBody, responseLine, usageOf } from '../../../activities/result-lines';

describe('result lines', () => {
  it('writes a response line with the body as an object, on one line', () => {
    const pretty = '{\n  "id": "x",\n  "usage": {"prompt_tokens": 1}\n}';
    const { body } = parseUpstreamBody(pretty, 200);
    const line = responseLine('batch_req_1', 'c1', 200, 'req_1', pretty, body);
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      id: 'batch_req_1',
      custom_id: 'c1',
      response: { status_code: 200, request_id: 'req_1', body: { id: 'x', usage: { prompt_tokens: 1 } } },
      error: null,
    });
  });

  it('writes an error line with response null', () => {
    expect(JSON.parse(errorLine('batch_req_2', 'c2', 'batch_expired', 'late'))).toEqual({
      id: 'batch_req_2',
      custom_id: 'c2',
      response: null,
      error: { code: 'batch_expired', message: 'late' },
    });
  });

  it('wraps a body that is not a JSON object in an error object', () => {
    const parsed = parseUpstreamBody('<html>Bad Gateway</html>', 502);
    expect(parsed.json).toBe(false);
    expect(parsed.body).toMatchObject({ error: { type: 'upstream_error' } });
    expect(JSON.stringify(parsed.body)).toContain('Bad Gateway');
  });

  it('reads chat, completions and responses usage into the batch usage shape', () => {
    expect(
      usageOf({
        usage: {
          prompt_tokens: 10,
          completion_tokens: 5,
          total_tokens: 15,
          prompt_tokens_details: { cached_tokens: 4 },
          completion_tokens_details: { reasoning_tokens: 2 },
        },
      }),
    ).toEqual({
      input_tokens: 10,
      input_tokens_details: { cached_tokens: 4 },
      output_tokens: 5,
      output_tokens_details: { reasoning_tokens: 2 },
      total_tokens: 15,
    });
    expect(usageOf({ usage: { input_tokens: 3, output_tokens: 4 } })).toMatchObject({ total_tokens: 7 });
    expect(usageOf({})).toMatchObject({ input_tokens: 0, total_tokens: 0 });
    expect(usageOf(null)).toMatchObject({ total_tokens: 0 });
  });
});
