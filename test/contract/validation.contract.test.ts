/**
 * Pins asynchronous validation: a batch over a bad input file is created, then ends `failed` with one
 * `errors.data` entry `{code, message, param, line}` per bad line (lines from 1, the first 100 at most),
 * with OpenAI's codes where OpenAI has them and Azure's where it is silent.
 */
import type OpenAI from 'openai';
import { toFile } from 'openai';
import { requestLine, startTestStack, uploadLines, waitForBatch } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';

jest.setTimeout(60_000);

const CHAT = '/v1/chat/completions';
const good = (id: string, extra: Record<string, unknown> = {}) => ({ ...requestLine(id, CHAT), ...extra });

describe('input file validation', () => {
  let stack: TestStack;
  let client: OpenAI;
  beforeAll(async () => {
    stack = await startTestStack({ env: { BATCH_MAX_REQUESTS: '120' } });
    client = stack.client;
  });
  afterAll(() => stack.stop());

  async function failedWith(fileId: string, endpoint: '/v1/chat/completions' | '/v1/completions' = CHAT) {
    const created = await client.batches.create({ input_file_id: fileId, endpoint, completion_window: '24h' });
    const { batch } = await waitForBatch(client, created.id);
    expect(batch.status).toBe('failed');
    expect(Number.isInteger(batch.failed_at)).toBe(true);
    expect(batch.in_progress_at).toBeNull();
    expect(batch.output_file_id).toBeNull();
    expect(batch.error_file_id).toBeNull();
    return batch.errors!.data!;
  }

  async function errorFor(line: unknown, endpoint: '/v1/chat/completions' | '/v1/completions' = CHAT) {
    const file = await uploadLines(client, [
      good('first'),
      typeof line === 'string' ? line : (line as Record<string, unknown>),
    ]);
    const errors = await failedWith(file.id, endpoint);
    expect(errors).toHaveLength(1);
    return errors[0];
  }

  it.each([
    ['invalid JSON', '{"custom_id": ', 'invalid_json_line', null, 'This line is not parseable as valid JSON.'],
    [
      'no custom_id',
      { method: 'POST', url: CHAT, body: { model: 'm', messages: [] } },
      'missing_required_parameter',
      'custom_id',
      "Missing required parameter: 'custom_id'.",
    ],
    [
      'no method',
      { custom_id: 'x', url: CHAT, body: { model: 'm', messages: [] } },
      'missing_required_parameter',
      'method',
      "Missing required parameter: 'method'.",
    ],
    [
      'no url',
      { custom_id: 'x', method: 'POST', body: { model: 'm', messages: [] } },
      'missing_required_parameter',
      'url',
      "Missing required parameter: 'url'.",
    ],
    [
      'no body',
      { custom_id: 'x', method: 'POST', url: CHAT },
      'missing_required_parameter',
      'body',
      "Missing required parameter: 'body'.",
    ],
    [
      'a GET',
      good('x', { method: 'GET' }),
      'invalid_request',
      'method',
      "Invalid value for 'method': only 'POST' is supported.",
    ],
    [
      'another endpoint',
      good('x', { url: '/v1/completions' }),
      'invalid_url',
      'url',
      'The URL provided for this request does not match the batch endpoint.',
    ],
    [
      'a body without model',
      { custom_id: 'x', method: 'POST', url: CHAT, body: { messages: [] } },
      'invalid_request',
      'body.model',
      'Model parameter is required.',
    ],
    [
      'stream: true',
      requestLine('x', CHAT, { stream: true }),
      'streaming_unsupported',
      'body.stream',
      'Chat Completions: Streaming is not supported in the Batch API.',
    ],
    [
      'a duplicate custom_id',
      good('first'),
      'duplicate_custom_id',
      'custom_id',
      "The custom_id 'first' is a duplicate of the custom_id of an earlier request.",
    ],
  ])('reports %s on its line', async (_name, line, code, param, message) => {
    expect(await errorFor(line)).toEqual({ code, message, param, line: 2 });
  });

  it('reports an empty file', async () => {
    const file = await client.files.create({
      file: await toFile(Buffer.from('\n\n'), 'empty.jsonl'),
      purpose: 'batch',
    });
    expect(await failedWith(file.id)).toEqual([
      {
        code: 'empty_file',
        message: 'The input file is empty. Please ensure that the batch contains at least one request.',
        param: null,
        line: null,
      },
    ]);
  });

  it('reports more than BATCH_MAX_REQUESTS lines', async () => {
    const file = await uploadLines(client, ['', ...Array.from({ length: 121 }, (_, i) => good(`n-${i}`))]);
    expect(await failedWith(file.id)).toEqual([
      {
        code: 'too_many_tasks',
        message: 'The input file has more than 120 requests; a batch may hold at most 120.',
        param: null,
        line: 122,
      },
    ]);
  });

  it('reports the first 100 problems only', async () => {
    const file = await uploadLines(
      client,
      Array.from({ length: 150 }, () => '{bad'),
    );
    const errors = await failedWith(file.id);
    expect(errors).toHaveLength(100);
    expect(errors.map((e) => e.line)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('reports an input file that does not exist', async () => {
    expect(await failedWith('file-01J00000000000000000000000')).toEqual([
      {
        code: 'invalid_request',
        message: 'Cannot find file file-01J00000000000000000000000, or you do not have access to it.',
        param: 'input_file_id',
        line: null,
      },
    ]);
  });

  it('reports an input file that is not of purpose batch', async () => {
    const file = await client.files.create({
      file: await toFile(Buffer.from(JSON.stringify(good('a'))), 'a.jsonl'),
      purpose: 'user_data',
    });
    expect(await failedWith(file.id)).toEqual([
      {
        code: 'invalid_request',
        message: `File ${file.id} has purpose 'user_data'; a batch needs a file uploaded with purpose 'batch'.`,
        param: 'input_file_id',
        line: null,
      },
    ]);
  });

  it('ignores blank lines and a missing final newline', async () => {
    const text = `${JSON.stringify(good('a'))}\n\n   \n${JSON.stringify(good('b'))}`;
    const file = await client.files.create({ file: await toFile(Buffer.from(text), 'ok.jsonl'), purpose: 'batch' });
    const created = await client.batches.create({ input_file_id: file.id, endpoint: CHAT, completion_window: '24h' });
    const { batch } = await waitForBatch(client, created.id);
    expect(batch).toMatchObject({ status: 'completed', request_counts: { total: 2, completed: 2, failed: 0 } });
  });
});
