/**
 * Pins `GET /v1/models` and `GET /v1/models/{id}` with the official client, and validation's
 * `model_not_found`: the models of every upstream that lists them and of MODEL_ROUTES, behind the API keys;
 * a line naming a model no upstream serves is refused on that line; an upstream without a model list
 * refuses nothing.
 */
import OpenAI from 'openai';
import { startFixtureUpstream } from '../helpers/fixture-upstream';
import type { FixtureUpstream } from '../helpers/fixture-upstream';
import { createBatch, requestLine, startTestStack, waitForBatch } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';

jest.setTimeout(60_000);

const CHAT = '/v1/chat/completions';

describe('models', () => {
  let routed: FixtureUpstream;
  let stack: TestStack;
  beforeAll(async () => {
    routed = await startFixtureUpstream({ models: ['special-model', 'special-model-large'] });
    stack = await startTestStack({
      upstream: { models: ['fixture-model', 'other-model'] },
      env: {
        API_KEYS: 'sk-models',
        MODEL_ROUTES: JSON.stringify({ 'special-model': { baseUrl: routed.baseUrl } }),
      },
    });
  });
  afterAll(async () => {
    await stack.stop();
    await routed.close();
  });

  it('lists the models every upstream lists and every routed name, each once', async () => {
    const page = await stack.client.models.list();
    const ids = page.data.map((m) => m.id).sort();
    expect(ids).toEqual(['fixture-model', 'other-model', 'special-model', 'special-model-large']);
    for (const m of page.data) expect(m).toMatchObject({ object: 'model', created: expect.any(Number) });
  });

  it('retrieves one, and answers an unknown id with 404 model_not_found', async () => {
    expect(await stack.client.models.retrieve('other-model')).toMatchObject({ id: 'other-model', object: 'model' });
    const err = (await stack.client.models.retrieve('no-such-model').catch((e: unknown) => e)) as InstanceType<
      typeof OpenAI.APIError
    >;
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.error).toMatchObject({ code: 'model_not_found', param: 'model' });
  });

  it('needs an API key like every /v1 route', async () => {
    const anonymous = new OpenAI({ baseURL: stack.client.baseURL, apiKey: 'sk-wrong' });
    await expect(anonymous.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('refuses each line whose model no upstream serves, and sends nothing upstream', async () => {
    const before = stack.upstream.requests.length;
    const lines = [
      requestLine('ok-1', CHAT),
      requestLine('bad-1', CHAT, {}, 'gpt-nope'),
      requestLine('routed', CHAT, {}, 'special-model'),
      requestLine('bad-2', CHAT, {}, 'gpt-nope'),
      requestLine('other', CHAT, {}, 'other-model'),
    ];
    const created = await createBatch(stack.client, lines);
    const { batch } = await waitForBatch(stack.client, created.id);
    expect(batch.status).toBe('failed');
    expect(batch.errors!.data).toEqual([
      {
        code: 'model_not_found',
        message: "The provided model 'gpt-nope' is not supported by the Batch API.",
        param: 'body.model',
        line: 2,
      },
      {
        code: 'model_not_found',
        message: "The provided model 'gpt-nope' is not supported by the Batch API.",
        param: 'body.model',
        line: 4,
      },
    ]);
    // Only model lists were asked for: no request line went out.
    expect(stack.upstream.requests.length).toBe(before);
  });

  it('runs the models it serves', async () => {
    const created = await createBatch(stack.client, [
      requestLine('a', CHAT),
      requestLine('b', CHAT, {}, 'other-model'),
    ]);
    const { batch } = await waitForBatch(stack.client, created.id);
    expect(batch).toMatchObject({ status: 'completed', request_counts: { total: 2, completed: 2, failed: 0 } });
  });
});

describe('an upstream without a model list', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ upstream: { models: null } });
  });
  afterAll(() => stack.stop());

  it('is not listed, and refuses no model', async () => {
    expect((await stack.client.models.list()).data).toEqual([]);
    const created = await createBatch(stack.client, [requestLine('any', CHAT, {}, 'whatever-model')]);
    const { batch } = await waitForBatch(stack.client, created.id);
    expect(batch).toMatchObject({ status: 'completed', model: 'whatever-model' });
  });
});
