import type { BatchRecord } from '../common/batch';
import { isTerminalStatus } from '../common/batch';
import type { TenantConfig } from '../config';
import { batchEndMessage, createMailer } from '../notifications';
import type { EmailConfig } from '../notifications';
import type { Catalog } from '../storage';
import { keys } from '../storage';
import type { Logger } from '../telemetry/logger';

export interface NotifyBatchEndInput {
  /** The batch in its terminal state. */
  record: BatchRecord;
}

/** What became of the e-mail: sent now, sent by an earlier attempt, or not for sending (and why). */
export type NotifyBatchEndOutput =
  { sent: true; alreadySent: boolean } | { sent: false; reason: 'no_smtp' | 'no_address' | 'not_ended' };

/** What a sent-marker holds: which message went, and when. */
interface SentMarker {
  message_id: string;
  status: string;
  sent_at: number;
}

/**
 * Builds `notifyBatchEnd`: e-mails the owning tenant (its `email` in TENANTS, nobody else) that a batch
 * ended, in plain text and HTML. Without SMTP_URL, or for a tenant without an address, it sends nothing.
 *
 * One message per batch, also across retries: a sent-marker in storage is written after the server took the
 * message and looked for before sending, and the Message-ID is derived from the batch, so the rare repeat
 * (the server took it, then the marker could not be written) is a duplicate a mail client recognises.
 * Failures are thrown as they are; Temporal retries with backoff. It never changes the batch.
 */
export function createNotifyBatchEnd(deps: {
  catalog: Catalog;
  email: EmailConfig;
  tenants: readonly TenantConfig[];
  logger: Logger;
}) {
  const { catalog, email, tenants, logger } = deps;
  const mailer = email.smtpUrl !== null && email.from !== null ? createMailer(email.smtpUrl, email.from) : null;
  return async function notifyBatchEnd({ record }: NotifyBatchEndInput): Promise<NotifyBatchEndOutput> {
    const { batch } = record;
    if (mailer === null) return { sent: false, reason: 'no_smtp' };
    if (!isTerminalStatus(batch.status)) return { sent: false, reason: 'not_ended' };
    const tenant = tenants.find((t) => t.name === (record.tenant?.name ?? record.owner));
    if (tenant?.email == null) return { sent: false, reason: 'no_address' };

    const markerKey = keys.batchNotified(batch.id);
    if ((await catalog.store.stat(markerKey)) !== null) return { sent: true, alreadySent: true };
    const messageId = `<${batch.id}.${batch.status}@${domainOf(email.from)}>`;
    await mailer.send(tenant.email, batchEndMessage(batch, email.dashboardUrl), messageId);
    const marker: SentMarker = { message_id: messageId, status: batch.status, sent_at: Math.floor(Date.now() / 1000) };
    await catalog.store.write(markerKey, JSON.stringify(marker), { ifAbsent: true });
    logger.info({ batch_id: batch.id, owner: tenant.name, status: batch.status }, 'batch e-mail sent');
    return { sent: true, alreadySent: false };
  };
}

/** The domain of the From address, for Message-IDs (`batches.local` when it has none). */
function domainOf(from: string | null): string {
  return /@([^>\s]+)>?\s*$/.exec(from ?? '')?.[1] ?? 'batches.local';
}
