/** Pins the output and error line format of OpenAI's batch files, and how usage is read from responses. */
import fc from 'fast-check';
import { errorLine, readUpstreamBody, responseLine, usageOf } from '../../../../activities/jsonl/result-lines';

describe('result lines', () => {
  it('writes a response line with the body as an object, on one line', () => {
    const pretty = '{\n  "id": "x",\n  "usage": {"prompt_tokens": 1}\n}';
    const body = readUpstreamBody(pretty, 200);
    expect(body).toMatchObject({ json: true, usage: { prompt_tokens: 1 } });
    expect(usageOf(body.usage)).toMatchObject({ input_tokens: 1, total_tokens: 1 });
    const line = responseLine('batch_req_1', 'c1', 200, 'req_1', body.bodyJson);
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      id: 'batch_req_1',
      custom_id: 'c1',
      response: { status_code: 200, request_id: 'req_1', body: { id: 'x', usage: { prompt_tokens: 1 } } },
      error: null,
    });
  });

  it('keeps a one-line body as the upstream wrote it', () => {
    const text = '{"id":"y","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3}}';
    const body = readUpstreamBody(text, 200);
    expect(body.bodyJson).toBe(text);
    expect(usageOf(body.usage)).toMatchObject({ input_tokens: 2, output_tokens: 3, total_tokens: 5 });
  });

  it('writes an error line with response null', () => {
    expect(JSON.parse(errorLine('batch_req_2', 'c2', 'batch_expired', 'late'))).toEqual({
      id: 'batch_req_2',
      custom_id: 'c2',
      response: null,
      error: { code: 'batch_expired', message: 'late' },
    });
  });

  it.each(['<html>Bad Gateway</html>', '[1,2]', '"text"', '{"a":1} trailing', '{"a":01}', ''])(
    'wraps %j, which is not a JSON object, in an error object',
    (text) => {
      const body = readUpstreamBody(text, 502);
      expect(body.json).toBe(false);
      expect(JSON.parse(body.bodyJson)).toMatchObject({ error: { type: 'upstream_error' } });
    },
  );

  it('reads chat, completions and responses usage into the batch usage shape', () => {
    expect(
      usageOf({
        prompt_tokens: 10,
        completion_tokens: 5,
        total_tokens: 15,
        prompt_tokens_details: { cached_tokens: 4 },
        completion_tokens_details: { reasoning_tokens: 2 },
      }),
    ).toEqual({
      input_tokens: 10,
      input_tokens_details: { cached_tokens: 4 },
      output_tokens: 5,
      output_tokens_details: { reasoning_tokens: 2 },
      total_tokens: 15,
    });
    expect(usageOf({ input_tokens: 3, output_tokens: 4 })).toMatchObject({ total_tokens: 7 });
    expect(usageOf(undefined)).toMatchObject({ input_tokens: 0, total_tokens: 0 });
    expect(usageOf(null)).toMatchObject({ total_tokens: 0 });
  });

  it("reads each endpoint's own usage shape", () => {
    const usage = (input: number, cached: number, output: number, reasoning: number, total: number) => ({
      input_tokens: input,
      input_tokens_details: { cached_tokens: cached },
      output_tokens: output,
      output_tokens_details: { reasoning_tokens: reasoning },
      total_tokens: total,
    });
    // Embeddings: prompt and total tokens, no output.
    expect(usageOf({ prompt_tokens: 8, total_tokens: 8 })).toEqual(usage(8, 0, 0, 0, 8));
    // Responses: input and output tokens and their details.
    expect(
      usageOf({
        input_tokens: 20,
        input_tokens_details: { cached_tokens: 16 },
        output_tokens: 9,
        output_tokens_details: { reasoning_tokens: 5 },
        total_tokens: 29,
      }),
    ).toEqual(usage(20, 16, 9, 5, 29));
    // Servers that send null details (llama.cpp, Ollama) count nothing for them.
    expect(
      usageOf({ prompt_tokens: 2, completion_tokens: 1, prompt_tokens_details: null, completion_tokens_details: null }),
    ).toEqual(usage(2, 0, 1, 0, 3));
    // Moderations: no usage at all.
    expect(usageOf(undefined)).toEqual(usage(0, 0, 0, 0, 0));
  });
});

describe('readUpstreamBody', () => {
  const parsesAsObject = (text: string) => {
    try {
      const v = JSON.parse(text) as unknown;
      return v !== null && typeof v === 'object' && !Array.isArray(v);
    } catch {
      return false;
    }
  };

  it('keeps any JSON object as one line that parses to it, with its usage', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 5 })),
        fc.option(fc.jsonValue()),
        fc.boolean(),
        (obj, usage, pretty) => {
          const value = usage === null ? obj : { ...obj, usage };
          const text = JSON.stringify(value, null, pretty ? 2 : undefined);
          const body = readUpstreamBody(text, 200);
          expect(body.json).toBe(true);
          expect(body.bodyJson).not.toMatch(/[\n\r]/);
          expect(JSON.parse(body.bodyJson)).toEqual(JSON.parse(text));
          expect(body.usage).toEqual((JSON.parse(text) as { usage?: unknown }).usage ?? null);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('wraps exactly what is not a JSON object, and the line stays valid JSON', () => {
    const mangled = fc
      .tuple(fc.jsonValue({ maxDepth: 3 }), fc.nat(), fc.string({ maxLength: 3 }), fc.nat({ max: 3 }))
      .map(([v, at, insert, cut]) => {
        const text = JSON.stringify({ v });
        const i = at % (text.length + 1);
        return text.slice(0, i) + insert + text.slice(Math.min(text.length, i + cut));
      });
    fc.assert(
      fc.property(mangled, (text) => {
        const body = readUpstreamBody(text, 500);
        expect(body.json).toBe(parsesAsObject(text));
        const line = JSON.parse(responseLine('batch_req_1', 'c', 500, 'req_1', body.bodyJson)) as {
          response: { body: unknown };
        };
        expect(typeof line.response.body).toBe('object');
      }),
      { numRuns: 3000 },
    );
  });
});
