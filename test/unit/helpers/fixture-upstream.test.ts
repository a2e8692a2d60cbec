/**
 * Pins the fixture upstream the other suites stand on: OpenAI's shapes on all five batchable endpoints as
 * the `openai` npm client reads them, and the `endpoints` and `models` options.
 */
import OpenAI from 'openai';
import { startFixtureUpstream } from '../../helpers/fixture-upstream';
import type { FixtureUpstream, FixtureUpstreamOptions } from '../../helpers/fixture-upstream';

let upstream: FixtureUpstream;
const start = async (options: FixtureUpstreamOptions = {}) => (upstream = await startFixtureUpstream(options));
afterEach(async () => {
  await upstream?.close();
});

function post(route: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(`${upstream.baseUrl}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
}

const client = (apiKey = 'sk-fixture') => new OpenAI({ baseURL: upstream.baseUrl, apiKey, maxRetries: 0 });

describe('fixture upstream: OpenAI endpoints through the openai client', () => {
  beforeEach(() => start());

  it('chat completions', async () => {
    const res = await client().chat.completions.create({
      model: 'fixture-model',
      messages: [{ role: 'user', content: 'say something' }],
    });
    expect(res.object).toBe('chat.completion');
    expect(res.choices[0].message.content).toBe('echo: say something');
    expect(res.usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });
  });

  it('completions', async () => {
    const res = await client().completions.create({ model: 'fixture-model', prompt: 'one two' });
    expect(res.object).toBe('text_completion');
    expect(res.choices[0].text).toBe('echo: one two');
    expect(res.usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });
  });

  it('embeddings: one unit vector per input, deterministic, base64 or floats, `dimensions` honoured', async () => {
    const api = client();
    const strings = await api.embeddings.create({ model: 'emb', input: ['one two three', 'four'] });
    expect(strings).toMatchObject({ object: 'list', model: 'emb', usage: { prompt_tokens: 4, total_tokens: 4 } });
    expect(strings.data.map((d) => [d.object, d.index, d.embedding.length])).toEqual([
      ['embedding', 0, 8],
      ['embedding', 1, 8],
    ]);
    const norm = Math.hypot(...strings.data[0].embedding);
    expect(norm).toBeCloseTo(1, 5);
    expect(strings.data[0].embedding).not.toEqual(strings.data[1].embedding);

    // The client asked for base64 above and decoded it; floats carry the same numbers.
    const floats = await api.embeddings.create({ model: 'emb', input: 'one two three', encoding_format: 'float' });
    expect(floats.data[0].embedding).toEqual(strings.data[0].embedding);

    const tokens = await api.embeddings.create({ model: 'emb', input: [[1, 2, 3], [4]], dimensions: 3 });
    expect(tokens.data.map((d) => d.embedding.length)).toEqual([3, 3]);
    expect(tokens.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
    const single = await api.embeddings.create({ model: 'emb', input: [5, 6] });
    expect(single.data).toHaveLength(1);
    expect(single.usage.prompt_tokens).toBe(2);

    await expect(api.embeddings.create({ model: 'emb', input: [] })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('embeddings: the vector length is a knob', async () => {
    upstream.setOptions({ embeddingDimensions: 5 });
    const res = await client().embeddings.create({ model: 'emb', input: 'x' });
    expect(res.data[0].embedding).toHaveLength(5);
  });

  it('responses: a completed Response echoing the last user message, with usage', async () => {
    const res = await client().responses.create({ model: 'fixture-model', input: 'what is this' });
    expect(res).toMatchObject({ object: 'response', status: 'completed', model: 'fixture-model', error: null });
    expect(res.id).toMatch(/^resp_/);
    expect(res.output).toHaveLength(1);
    expect(res.output[0]).toMatchObject({ type: 'message', status: 'completed', role: 'assistant' });
    expect(res.output[0].id).toMatch(/^msg_/);
    expect(res.output_text).toBe('echo: what is this');
    expect(res.usage).toEqual({
      input_tokens: 3,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 4,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 7,
    });

    const items = await client().responses.create({
      model: 'fixture-model',
      instructions: 'be brief',
      input: [
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: 'an answer' },
        { role: 'user', content: [{ type: 'input_text', text: 'second question' }] },
      ],
    });
    expect(items.output_text).toBe('echo: second question');
    expect(items.instructions).toBe('be brief');
    expect(items.usage?.input_tokens).toBe(8);
  });

  it('moderations: one unflagged result per input, or one for a multimodal input', async () => {
    const api = client();
    const res = await api.moderations.create({ model: 'omni-moderation-latest', input: ['a', 'b c'] });
    expect(res.id).toMatch(/^modr-/);
    expect(res.model).toBe('omni-moderation-latest');
    expect(res.results).toHaveLength(2);
    for (const r of res.results) {
      expect(r.flagged).toBe(false);
      expect(Object.values(r.categories).every((v) => v === false)).toBe(true);
      expect(Object.keys(r.category_scores).sort()).toEqual(Object.keys(r.categories).sort());
      expect(r.category_applied_input_types.violence).toEqual(['text']);
    }
    const multimodal = await api.moderations.create({
      model: 'omni-moderation-latest',
      input: [
        { type: 'text', text: 'look' },
        { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
      ],
    });
    expect(multimodal.results).toHaveLength(1);
    expect(multimodal.results[0].category_applied_input_types.violence).toEqual(['text', 'image']);
    expect(multimodal.results[0].category_applied_input_types.hate).toEqual(['text']);
    // The model may be left out, as at OpenAI.
    expect((await api.moderations.create({ input: 'x' })).results).toHaveLength(1);
  });

  it('the knobs apply to the new endpoints: directives, faults and the API key', async () => {
    const failing = await post('/embeddings', { model: 'e', input: 'x', fixture: { status: 503, retry_after: 2 } });
    expect(failing.status).toBe(503);
    expect(failing.headers.get('retry-after')).toBe('2');
    expect(((await failing.json()) as { error: { type: string } }).error.type).toBe('server_error');

    upstream.setOptions({ faults: { status500: 1 } });
    expect((await post('/moderations', { input: 'x' })).status).toBe(500);
    upstream.setOptions({ faults: {}, apiKey: 'sk-right' });
    await expect(client('sk-wrong').responses.create({ model: 'm', input: 'x' })).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
    expect((await client('sk-right').responses.create({ model: 'm', input: 'x' })).status).toBe('completed');
  });
});

describe('fixture upstream: endpoints and models options', () => {
  it('answers 404 on endpoints it is told not to serve', async () => {
    await start({ endpoints: ['/v1/chat/completions', '/v1/embeddings'] });
    const api = client();
    await expect(api.responses.create({ model: 'm', input: 'x' })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(api.moderations.create({ input: 'x' })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(api.completions.create({ model: 'm', prompt: 'x' })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect((await api.embeddings.create({ model: 'm', input: 'x' })).data).toHaveLength(1);
    expect((await api.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] })).id).toBe(
      'chatcmpl-fixture-5',
    );
  });

  it('lists fixture-model by default', async () => {
    await start();
    const api = client();
    const list = await api.models.list();
    expect(list.data).toEqual([{ id: 'fixture-model', object: 'model', created: 1_700_000_000, owned_by: 'fixture' }]);
    expect((await api.models.retrieve('fixture-model')).id).toBe('fixture-model');
    await expect(api.models.retrieve('other')).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
  });

  it('lists the models it is given, and has no /v1/models with null', async () => {
    await start({ models: ['small', 'org/large'] });
    const api = client();
    expect((await api.models.list()).data.map((m) => m.id)).toEqual(['small', 'org/large']);
    expect((await api.models.retrieve('org/large')).id).toBe('org/large');

    upstream.setOptions({ models: null });
    await expect(api.models.list()).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(api.models.retrieve('small')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    // Models are not checked on the POST endpoints.
    expect((await api.completions.create({ model: 'anything', prompt: 'x' })).model).toBe('anything');
  });
});
