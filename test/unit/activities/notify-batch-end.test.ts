/**
 * Pins notifyBatchEnd against a real SMTP server and real storage: exactly one message per batch across
 * attempts (a sent-marker written after the server took it, looked for before sending), to the tenant's
 * address only; nothing without SMTP_URL, for a tenant without an address, or for a batch not yet ended;
 * a refusal is thrown for Temporal to retry.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { createNotifyBatchEnd } from '../../../activities/notify-batch-end';
import type { BatchRecord } from '../../../common/batch';
import type { TenantConfig } from '../../../config';
import { Catalog, keys, readJson } from '../../../storage';
import { LocalFileStore } from '../../../storage/local-file-store';
import { createLogger } from '../../../telemetry/logger';
import { runAsActivity } from '../../helpers/activity-context';
import { batchObject } from '../../helpers/batch-object';
import { startSmtpServer } from '../../helpers/smtp-server';
import type { TestSmtpServer } from '../../helpers/smtp-server';

const logger = createLogger({ level: 'silent', service: 'test' });
const tenants: TenantConfig[] = [
  { name: 'team-a', keys: ['sk-a'], email: 'a@example.org', weight: 1 },
  { name: 'team-b', keys: ['sk-b'], email: null, weight: 1 },
];
const record = (owner: string, status: 'completed' | 'in_progress' = 'completed'): BatchRecord => ({
  owner,
  tenant: { name: owner, weight: 1 },
  batch: batchObject(status),
  webhookUrl: null,
  outputExpiresAfterSeconds: null,
});

describe('notifyBatchEnd', () => {
  let smtp: TestSmtpServer;
  let dir: string;
  let catalog: Catalog;
  beforeAll(async () => {
    smtp = await startSmtpServer({ refuseFirst: 1 });
    dir = await mkdtemp(path.join(os.tmpdir(), 'notify-'));
    catalog = new Catalog(new LocalFileStore(dir));
  });
  afterAll(async () => {
    await smtp.close();
    await rm(dir, { recursive: true, force: true });
  });

  const notify = (smtpUrl: string | null) =>
    createNotifyBatchEnd({
      catalog,
      email: { smtpUrl, from: 'Batches <batches@example.org>', dashboardUrl: null },
      tenants,
      logger,
    });

  it('sends once across attempts: a refusal throws, the retry sends, a later attempt finds the marker', async () => {
    const r = record('team-a');
    const notifyBatchEnd = notify(smtp.url);
    await expect(runAsActivity(() => notifyBatchEnd({ record: r }), { attempt: 1 })).rejects.toThrow(/451/);
    expect(await runAsActivity(() => notifyBatchEnd({ record: r }), { attempt: 2 })).toEqual({
      sent: true,
      alreadySent: false,
    });
    expect(await runAsActivity(() => notifyBatchEnd({ record: r }), { attempt: 3 })).toEqual({
      sent: true,
      alreadySent: true,
    });
    expect(smtp.received.map((m) => m.to)).toEqual([['a@example.org']]);
    expect(await readJson(catalog.store, keys.batchNotified(r.batch.id))).toMatchObject({
      message_id: `<${r.batch.id}.completed@example.org>`,
      status: 'completed',
    });
  });

  it('sends nothing without SMTP_URL, for a tenant without an address, or for a batch still running', async () => {
    const before = smtp.received.length;
    expect(await runAsActivity(() => notify(null)({ record: record('team-a') }))).toEqual({
      sent: false,
      reason: 'no_smtp',
    });
    expect(await runAsActivity(() => notify(smtp.url)({ record: record('team-b') }))).toEqual({
      sent: false,
      reason: 'no_address',
    });
    expect(await runAsActivity(() => notify(smtp.url)({ record: record('key_0123') }))).toEqual({
      sent: false,
      reason: 'no_address',
    });
    expect(await runAsActivity(() => notify(smtp.url)({ record: record('team-a', 'in_progress') }))).toEqual({
      sent: false,
      reason: 'not_ended',
    });
    expect(smtp.received.length).toBe(before);
  });
});
