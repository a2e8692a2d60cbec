/**
 * Pins what operators see in Temporal: every batch carries the Batch* search attributes, so the Web UI and
 * `temporal workflow list --query "BatchStatus='…'"` find it, a memo summary readable without a worker, and
 * user metadata the Web UI shows: a summary and details from the start, current details kept up to date,
 * and a summary on each chunk activity.
 */
import { Client, Connection, defaultPayloadConverter } from '@temporalio/client';
import { temporalCli } from '../helpers/temporal-cli';
import { requestLine, startTestStack, uploadLines, waitForBatch } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';

jest.setTimeout(120_000);

async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('not found in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('batches in Temporal visibility', () => {
  let stack: TestStack;
  let connection: Connection;
  let client: Client;
  beforeAll(async () => {
    stack = await startTestStack({ upstream: { latencyMs: 200 }, env: { UPSTREAM_MAX_CONCURRENCY: '1' } });
    connection = await Connection.connect({ address: stack.temporalAddress });
    client = new Client({ connection });
  });
  afterAll(async () => {
    await connection.close();
    await stack.stop();
  });

  it('are found by status with the SDK and the temporal CLI, and carry a memo summary', async () => {
    const file = await uploadLines(
      stack.client,
      Array.from({ length: 20 }, (_, i) => requestLine(`v-${i}`, '/v1/chat/completions', {}, 'visible-model')),
    );
    const created = await stack.client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const ids = async (query: string) => {
      const found: string[] = [];
      for await (const wf of client.workflow.list({ query })) found.push(wf.workflowId);
      return found;
    };
    await eventually(async () =>
      (await ids("BatchStatus='in_progress' AND BatchModel='visible-model'")).includes(created.id) ? true : undefined,
    );

    const { batch } = await waitForBatch(stack.client, created.id);
    await eventually(async () =>
      (await ids(`BatchStatus='completed' AND BatchEndpoint='/v1/chat/completions' AND WorkflowId='${batch.id}'`))
        .length === 1
        ? true
        : undefined,
    );

    const description = await client.workflow.getHandle(batch.id).describe();
    expect(description.memo?.summary).toEqual({
      status: 'completed',
      request_counts: { total: 20, completed: 20, failed: 0 },
      output_file_id: batch.output_file_id,
      error_file_id: null,
    });
    // The API's /metrics counts batches by status from the same visibility store.
    const metrics = await (await fetch(`${stack.api.url}/metrics`)).text();
    expect(metrics).toMatch(/^batch_batches\{status="completed"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^batch_batches\{status="cancelling"\} \d+$/m);

    expect(await description.staticSummary()).toMatch(
      /^chat\/completions · visible-model · default · 24h · input\.jsonl \(\d+\.\d KB\)$/,
    );
    const details = await description.staticDetails();
    for (const row of [
      '| Endpoint | /v1/chat/completions |',
      '| Tenant | default (weight 1) |',
      `| Batch | ${batch.id} |`,
    ]) {
      expect(details).toContain(row);
    }
    const handle = client.workflow.getHandle(batch.id);
    const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toContain('20 of 20 requests done (100%): 20 completed, 0 failed');
    const chunks = (await handle.fetchHistory()).events!.filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'executeChunk',
    );
    expect(chunks.map((e) => defaultPayloadConverter.fromPayload(e.userMetadata!.summary!))).toEqual([
      'chunk 1 of 1: requests 1–20',
    ]);

    const attributes = description.typedSearchAttributes;
    expect(attributes.get({ name: 'BatchOwner', type: 'KEYWORD' })).toBe('default');
    expect(attributes.get({ name: 'BatchCreatedAt', type: 'DATETIME' })?.getTime()).toBe(batch.created_at * 1000);

    // The command the README gives operators.
    // The commands the README's runbook gives operators.
    const cli = (...args: string[]) => temporalCli(stack.temporalAddress, ...args, '--output', 'json');
    const later = new Date((batch.created_at + 60) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    const listed = await cli(
      'workflow',
      'list',
      '--query',
      `BatchStatus='completed' AND BatchCreatedAt < '${later}' AND WorkflowId='${batch.id}'`,
    );
    expect(listed).toContain(batch.id);
    const queried = await cli('workflow', 'query', '--workflow-id', batch.id, '--name', 'getBatch');
    expect(JSON.parse(queried)).toMatchObject({
      queryResult: [{ batch: { id: batch.id, status: 'completed' } }],
    });
  });
});
