/**
 * Pins how the upstream client sends each batch endpoint, against the fixture upstream: `/v1/<path>` onto
 * the route's base URL for all five; a route with `responses: 'chat'` runs `/v1/responses` lines as chat
 * completions and answers with a Response object; an upstream that lacks an endpoint gives an error that
 * says so, while its answers about unknown models stay its own.
 */
import { UpstreamClient } from '../../../upstream/client';
import type { UpstreamResult } from '../../../upstream/client';
import { Stopper } from '../../../upstream/stopper';
import { startFixtureUpstream } from '../../helpers/fixture-upstream';
import type { FixtureUpstream } from '../../helpers/fixture-upstream';

describe('UpstreamClient, by endpoint', () => {
  let full: FixtureUpstream;
  let chatOnly: FixtureUpstream;
  let client: UpstreamClient;

  beforeAll(async () => {
    full = await startFixtureUpstream();
    chatOnly = await startFixtureUpstream({
      endpoints: ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'],
      models: ['llama', 'llama-native'],
    });
    client = new UpstreamClient({
      default: { baseUrl: full.baseUrl, apiKey: null, maxConcurrency: 4 },
      routes: {
        llama: { baseUrl: chatOnly.baseUrl, apiKey: null, maxConcurrency: 4, responses: 'chat' },
        'llama-native': { baseUrl: chatOnly.baseUrl, apiKey: null, maxConcurrency: 4 },
        'not-listed': { baseUrl: chatOnly.baseUrl, apiKey: null, maxConcurrency: 4 },
      },
      timeoutMs: 5000,
      maxResponseBytes: 1024 * 1024,
      maxAttempts: 2,
    });
  });
  afterAll(async () => {
    await client.close();
    await Promise.all([full.close(), chatOnly.close()]);
  });

  const send = (url: string, body: Record<string, unknown>, model = String(body.model)) =>
    client.send({
      model,
      url,
      body: JSON.stringify(body),
      fairnessKey: 'b',
      deadlineMs: Date.now() + 60_000,
      stopper: new Stopper(),
    });
  const json = (result: UpstreamResult): Record<string, any> => {
    if (result.kind !== 'response') throw new Error(`no answer: ${JSON.stringify(result)}`);
    return JSON.parse(result.bodyText) as Record<string, any>;
  };

  it('sends every endpoint to its path under the base URL', async () => {
    expect(json(await send('/v1/embeddings', { model: 'e', input: ['a', 'b'] }))).toMatchObject({
      object: 'list',
      data: [{ object: 'embedding', index: 0 }, { index: 1 }],
    });
    expect(json(await send('/v1/responses', { model: 'r', input: 'hi' }))).toMatchObject({
      object: 'response',
      id: expect.stringMatching(/^resp_fixture_/),
    });
    const moderation = await send('/v1/moderations', { input: 'hi' }, 'omni-moderation-latest');
    expect(json(moderation)).toMatchObject({ model: 'omni-moderation-latest', results: [{ flagged: false }] });
  });

  it('runs a responses line as a chat completion on a route with responses: chat, and answers a Response', async () => {
    const before = chatOnly.requests.length;
    const result = await send('/v1/responses', { model: 'llama', instructions: 'Be brief.', input: 'Hello there' });
    expect(result).toMatchObject({ kind: 'response', status: 200 });
    expect(chatOnly.requests.slice(before).map((r) => r.endpoint)).toEqual(['/v1/chat/completions']);
    const response = json(result);
    expect(response).toMatchObject({
      object: 'response',
      status: 'completed',
      model: 'llama',
      instructions: 'Be brief.',
      output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'echo: Hello there' }] }],
      usage: { input_tokens: 4, output_tokens: 3, total_tokens: 7 },
    });
    expect(response.id).toMatch(/^resp_/);
  });

  it('refuses, without sending it, a responses line the chat completions cannot express', async () => {
    const before = chatOnly.requestCount;
    const result = await send('/v1/responses', { model: 'llama', input: 'x', tools: [{ type: 'web_search' }] });
    expect(result).toEqual({
      kind: 'failure',
      code: 'untranslatable_request',
      message: `The upstream ${chatOnly.baseUrl} has no /v1/responses, and this request cannot run as a chat completion there: 'web_search' tools are not translated (only functions are) (param 'tools[0]').`,
    });
    expect(chatOnly.requestCount).toBe(before);
  });

  it('says plainly that an upstream does not serve an endpoint', async () => {
    const result = await send('/v1/responses', { model: 'llama-native', input: 'x' });
    expect(result).toMatchObject({ kind: 'response', status: 404 });
    expect(json(result)).toEqual({
      error: {
        message:
          `The upstream ${chatOnly.baseUrl} does not serve POST /responses: it answered 404 (Unknown route POST /v1/responses). ` +
          'For a server that has chat completions but no Responses API (llama.cpp, Ollama), set ' +
          'UPSTREAM_RESPONSES_VIA_CHAT=true, or "responses": "chat" on its MODEL_ROUTES entry.',
        type: 'invalid_request_error',
        param: null,
        code: 'unsupported_endpoint',
      },
    });
    const moderation = json(await send('/v1/moderations', { model: 'llama', input: 'x' }));
    expect(moderation.error).toMatchObject({
      message: `The upstream ${chatOnly.baseUrl} does not serve POST /moderations: it answered 404 (Unknown route POST /v1/moderations).`,
      code: 'unsupported_endpoint',
    });
  });

  it('leaves a 404 about the model as the upstream wrote it', async () => {
    // The fixture with a model list answers an unknown model as vLLM does: 404, naming the model.
    const result = await send('/v1/embeddings', { model: 'not-listed', input: 'x' });
    expect(result).toMatchObject({ kind: 'response', status: 404 });
    expect(json(result)).toEqual({
      error: {
        message: "The model 'not-listed' does not exist",
        type: 'invalid_request_error',
        param: 'model',
        code: 'model_not_found',
      },
    });
  });
});
