/**
 * Pins the e-mail when a batch ends, against a real SMTP server: one message per batch, to the owning
 * tenant's address only (TENANTS), with the batch id, status, counts, the first errors of a failed batch and
 * a dashboard link, in plain text and HTML; retried when the server refuses at first; nothing for a tenant
 * without an address.
 */
import { Client, Connection } from '@temporalio/client';
import OpenAI from 'openai';
import { requestLine, startTestStack, uploadLines, waitForBatch } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';
import { startSmtpServer } from '../helpers/smtp-server';
import type { TestSmtpServer } from '../helpers/smtp-server';

jest.setTimeout(120_000);

const TENANTS = {
  'team-a': { keys: ['sk-team-a'], email: 'a@example.org', weight: 2 },
  'team-b': { keys: ['sk-team-b'], email: 'b@example.org' },
};

describe('e-mail when a batch ends', () => {
  let smtp: TestSmtpServer;
  let stack: TestStack;
  let temporal: Connection;
  const clients: Record<string, OpenAI> = {};

  beforeAll(async () => {
    // The server refuses the first delivery: the first batch's e-mail is sent on the activity's retry.
    smtp = await startSmtpServer({ refuseFirst: 1 });
    stack = await startTestStack({
      env: {
        TENANTS: JSON.stringify(TENANTS),
        API_KEYS: 'sk-plain',
        SMTP_URL: smtp.url,
        EMAIL_FROM: 'Batches <batches@example.org>',
        DASHBOARD_URL: 'https://batches.example.org/',
      },
    });
    for (const key of ['sk-team-a', 'sk-team-b', 'sk-plain']) {
      clients[key] = new OpenAI({ baseURL: `${stack.api.url}/v1`, apiKey: key, maxRetries: 0 });
    }
    temporal = await Connection.connect({ address: stack.temporalAddress });
  });
  afterAll(async () => {
    await temporal.close();
    await stack.stop();
    await smtp.close();
  });

  /** Creates a batch as `key` and waits until its workflow closed (webhook and e-mail activities included). */
  async function runBatch(key: string, lines: (Record<string, unknown> | string)[]) {
    const client = clients[key];
    const file = await uploadLines(client, lines);
    const created = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const { batch } = await waitForBatch(client, created.id);
    await new Client({ connection: temporal }).workflow.getHandle(batch.id).result();
    return batch;
  }

  it("sends one message to the owning tenant's address, after a refusal, with the batch's facts and a link", async () => {
    const batch = await runBatch('sk-team-a', [
      requestLine('a-1', '/v1/chat/completions'),
      requestLine('a-2', '/v1/chat/completions', { fixture: { status: 400 } }),
    ]);
    expect(batch.status).toBe('completed');
    expect(smtp.refused).toBe(1);
    expect(smtp.received).toHaveLength(1);
    const [mail] = smtp.received;
    expect(mail.to).toEqual(['a@example.org']);
    expect(mail.from).toBe('batches@example.org');
    expect(mail.headers.subject).toBe(`Batch ${batch.id} completed: 1 of 2 requests succeeded`);
    expect(mail.headers['message-id']).toBe(`<${batch.id}.completed@example.org>`);
    for (const part of [
      `Your batch ${batch.id} has ended: completed.`,
      'Requests: 2 total, 1 completed, 1 failed',
      `Output file: ${batch.output_file_id}`,
      `Error file: ${batch.error_file_id}`,
      `Open it in the dashboard: https://batches.example.org/#/batches/${batch.id}`,
    ]) {
      expect(mail.text).toContain(part);
    }
    expect(mail.html).toContain(`<code>${batch.id}</code>`);
    expect(mail.html).toContain(`href="https://batches.example.org/#/batches/${batch.id}"`);
    // The tenant's name, not a key hash, is what logs and metrics say.
    expect(stack.logs.some((l) => l.msg === 'batch e-mail sent' && l.owner === 'team-a')).toBe(true);
    const metrics = await (await fetch(`${stack.api.url}/metrics`)).text();
    expect(metrics).toMatch(/^batch_batches_finished_total\{status="completed",tenant="team-a"\} 1$/m);
  });

  it('lists the first errors of a failed batch, to that tenant only; a key without an address gets nothing', async () => {
    const before = smtp.received.length;
    const failed = await runBatch('sk-team-b', ['{not json', requestLine('b-2', '/v1/chat/completions')]);
    expect(failed.status).toBe('failed');
    const plain = await runBatch('sk-plain', [requestLine('p-1', '/v1/chat/completions')]);
    expect(plain.status).toBe('completed');

    const sent = smtp.received.slice(before);
    expect(sent.map((m) => m.to)).toEqual([['b@example.org']]);
    expect(sent[0].headers.subject).toBe(`Batch ${failed.id} failed: 0 of 0 requests succeeded`);
    expect(sent[0].text).toContain('Errors (the first 1 of 1):');
    expect(sent[0].text).toContain('  line 1: invalid_json_line:');
    expect(smtp.received.some((m) => m.text.includes(plain.id))).toBe(false);
  });
});
