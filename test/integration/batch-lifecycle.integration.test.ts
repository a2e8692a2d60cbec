/**
 * Pins the life of a batch end to end through the `openai` client: statuses in order, counts that move
 * while it runs, every custom_id exactly once in the output or error file, upstream 4xx answers as error
 * lines, and results that stay readable from storage once the workflow is gone.
 */
import {
  downloadLines,
  replayHistories,
  requestLine,
  startTestStack,
  uploadLines,
  waitForBatch,
  createBatch,
} from '../helpers/stack';
import type { TestStack } from '../helpers/stack';
import { Client, Connection } from '@temporalio/client';
import OpenAI from 'openai';

/** Ids of the batches these tests ran, by scenario: their histories are replayed at the end. */
const finished: Record<string, string> = {};
afterAll(() => replayHistories(finished));

jest.setTimeout(120_000);

const ORDER = ['validating', 'in_progress', 'finalizing', 'completed'];

describe('a chat completions batch', () => {
  let stack: TestStack;
  beforeAll(async () => {
    // Slow enough, and narrow enough, that progress can be watched.
    // Chunks of 8 lines, so that counts move while the batch runs.
    stack = await startTestStack({
      upstream: { latencyMs: 20 },
      env: { UPSTREAM_MAX_CONCURRENCY: '4', BATCH_CHUNK_MAX_LINES: '8' },
    });
  });
  afterAll(() => stack.stop());

  it('walks validating → in_progress → finalizing → completed with counts moving, and maps results by custom_id', async () => {
    const { client, upstream } = stack;
    const lines = Array.from({ length: 120 }, (_, i) =>
      requestLine(
        `req-${i}`,
        '/v1/chat/completions',
        // Line 7 is refused by the upstream (final 4xx); line 9 fails twice with 500 before it succeeds.
        i === 7 ? { fixture: { status: 422 } } : i === 9 ? { fixture: { status: 500, times: 2 } } : {},
      ),
    );
    const file = await uploadLines(client, lines);
    const created = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { project: 'lifecycle' },
    });
    expect(created).toMatchObject({
      object: 'batch',
      status: 'validating',
      endpoint: '/v1/chat/completions',
      input_file_id: file.id,
      completion_window: '24h',
      output_file_id: null,
      error_file_id: null,
      errors: null,
      in_progress_at: null,
      completed_at: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      metadata: { project: 'lifecycle' },
    });
    expect(created.expires_at).toBe(created.created_at + 86_400);

    const { batch, seen } = await waitForBatch(client, created.id);
    expect(batch.status).toBe('completed');
    finished['chat-completed-with-4xx-line'] = batch.id;

    // Statuses only move forward, in OpenAI's order.
    const statuses = seen.map((b) => b.status);
    for (let i = 1; i < statuses.length; i++) {
      expect(ORDER.indexOf(statuses[i])).toBeGreaterThanOrEqual(ORDER.indexOf(statuses[i - 1]));
    }
    expect(statuses).toContain('in_progress');
    // Counts never go back, and were seen between zero and the total while running.
    const done = seen.map((b) => b.request_counts!.completed + b.request_counts!.failed);
    for (let i = 1; i < done.length; i++) expect(done[i]).toBeGreaterThanOrEqual(done[i - 1]);
    expect(done.some((n) => n > 0 && n < 120)).toBe(true);

    expect(batch.request_counts).toEqual({ total: 120, completed: 119, failed: 1 });
    expect(batch.in_progress_at).not.toBeNull();
    expect(batch.finalizing_at).not.toBeNull();
    expect(batch.completed_at).not.toBeNull();
    expect(batch.created_at).toBeLessThanOrEqual(batch.in_progress_at!);
    expect(batch.in_progress_at!).toBeLessThanOrEqual(batch.finalizing_at!);
    expect(batch.finalizing_at!).toBeLessThanOrEqual(batch.completed_at!);
    expect(batch.model).toBe('fixture-model');

    const output = await downloadLines(client, batch.output_file_id!);
    const errors = await downloadLines(client, batch.error_file_id!);
    expect(output).toHaveLength(119);
    expect(errors).toHaveLength(1);
    const ids = [...output, ...errors].map((l) => l.custom_id).sort();
    expect(ids).toEqual(lines.map((l) => l.custom_id).sort());

    const line3 = output.find((l) => l.custom_id === 'req-3')!;
    expect(line3.id).toMatch(/^batch_req_/);
    expect(line3.error).toBeNull();
    expect(line3.response.status_code).toBe(200);
    expect(line3.response.request_id).toEqual(expect.any(String));
    expect(line3.response.body.choices[0].message.content).toBe('echo: hello from req-3');

    // The 500s were retried: the line succeeded, after three attempts upstream.
    expect(output.find((l) => l.custom_id === 'req-9')!.response.status_code).toBe(200);

    // The final 4xx is an error line with the upstream's status and body, and `error: null`.
    expect(errors[0]).toMatchObject({
      custom_id: 'req-7',
      error: null,
      response: { status_code: 422, body: { error: { message: 'Fixture error 422', type: 'invalid_request_error' } } },
    });

    // Usage is the sum of the successful responses' usage.
    const inputTokens = output.reduce((n, l) => n + l.response.body.usage.prompt_tokens, 0);
    const outputTokens = output.reduce((n, l) => n + l.response.body.usage.completion_tokens, 0);
    expect(batch.usage).toEqual({
      input_tokens: inputTokens,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: outputTokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: inputTokens + outputTokens,
    });
    expect(upstream.requestCount).toBeGreaterThanOrEqual(122);

    // Result files are Files-API files of purpose batch_output.
    const outFile = await client.files.retrieve(batch.output_file_id!);
    expect(outFile).toMatchObject({ object: 'file', purpose: 'batch_output', status: 'processed' });
    expect(outFile.filename).toBe(`${batch.id}_output.jsonl`);
  });

  it('keeps a finished batch readable and listed without a worker, from batch.json', async () => {
    const { client } = stack;
    const created = await createBatch(client, [requestLine('only', '/v1/chat/completions')]);
    const { batch } = await waitForBatch(client, created.id);
    expect(batch.status).toBe('completed');

    await stack.worker.stop();
    const again = await client.batches.retrieve(created.id);
    expect(again).toEqual(batch);
    const page = await client.batches.list({ limit: 100 });
    expect(page.data.map((b) => b.id)).toContain(created.id);
    await stack.addWorker();
  });
});

describe('a batch past Temporal retention', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack.stop());

  it('is still retrieved, listed and refused a cancel, from batch.json', async () => {
    const { client } = stack;
    const created = await createBatch(client, [requestLine('r-1', '/v1/chat/completions')]);
    const { batch } = await waitForBatch(client, created.id);

    // What retention does: the closed workflow and its history are deleted from Temporal.
    const connection = await Connection.connect({ address: stack.temporalAddress });
    try {
      const temporal = new Client({ connection });
      await temporal.workflowService.deleteWorkflowExecution({
        namespace: 'default',
        workflowExecution: { workflowId: batch.id },
      });
      for (;;) {
        try {
          await temporal.workflow.getHandle(batch.id).describe();
        } catch {
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await connection.close();
    }

    expect(await client.batches.retrieve(batch.id)).toEqual(batch);
    expect((await client.batches.list()).data).toContainEqual(batch);
    await expect(client.batches.cancel(batch.id)).rejects.toBeInstanceOf(OpenAI.ConflictError);
    expect((await downloadLines(client, batch.output_file_id!))[0].custom_id).toBe('r-1');
  });
});

describe('a completions batch', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack.stop());

  it('completes with one output line per request', async () => {
    const { client } = stack;
    const lines = Array.from({ length: 10 }, (_, i) => requestLine(`c-${i}`, '/v1/completions'));
    const created = await createBatch(client, lines, '/v1/completions');
    const { batch } = await waitForBatch(client, created.id);
    expect(batch).toMatchObject({ status: 'completed', request_counts: { total: 10, completed: 10, failed: 0 } });
    finished['completions-completed'] = batch.id;
    expect(batch.error_file_id).toBeNull();
    const output = await downloadLines(client, batch.output_file_id!);
    expect(output.map((l) => l.custom_id).sort()).toEqual(lines.map((l) => l.custom_id).sort());
    expect(output[0].response.body.object).toBe('text_completion');
    expect(output.find((l) => l.custom_id === 'c-4')!.response.body.choices[0].text).toBe('echo: hello from c-4');
  });

  it('fails validation with errors.data when lines are bad', async () => {
    const { client } = stack;
    const file = await uploadLines(client, [
      requestLine('a', '/v1/completions'),
      '{not json',
      requestLine('a', '/v1/completions'),
      requestLine('b', '/v1/chat/completions'),
    ]);
    const created = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/completions',
      completion_window: '24h',
    });
    const { batch } = await waitForBatch(client, created.id);
    expect(batch.status).toBe('failed');
    finished['validation-failed'] = batch.id;
    expect(batch.failed_at).not.toBeNull();
    expect(batch.errors?.data).toEqual([
      { code: 'invalid_json_line', message: 'This line is not parseable as valid JSON.', param: null, line: 2 },
      expect.objectContaining({ code: 'duplicate_custom_id', param: 'custom_id', line: 3 }),
      {
        code: 'invalid_url',
        message: 'The URL provided for this request does not match the batch endpoint.',
        param: 'url',
        line: 4,
      },
    ]);
    expect(batch.output_file_id).toBeNull();
    expect(batch.error_file_id).toBeNull();
  });
});
