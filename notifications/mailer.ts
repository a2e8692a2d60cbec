import { createTransport } from 'nodemailer';
import type { EmailContent } from './batch-end-message';

/** The e-mail part of the configuration. */
export interface EmailConfig {
  /** `smtp://user:pass@host:port` or `smtps://…`; null: no e-mail is sent. */
  smtpUrl: string | null;
  /** The From of every message. */
  from: string | null;
  /** Where the dashboard is, for the link to the batch; null: no link. */
  dashboardUrl: string | null;
}

/** Sends e-mail over SMTP. */
export interface Mailer {
  /**
   * Sends one message with the given Message-ID. Throws when the server refuses it or cannot be reached (a
   * 4xx or 5xx answer, a timeout): the caller's retries decide what happens next.
   */
  send(to: string, content: EmailContent, messageId: string): Promise<void>;
  close(): void;
}

/**
 * A {@link Mailer} over `smtpUrl` with nodemailer. One connection per message (batches end now and then); each
 * step has a timeout well under the activity's, so an attempt that hangs fails rather than overlapping its
 * retry.
 */
export function createMailer(smtpUrl: string, from: string): Mailer {
  const transport = createTransport({
    url: smtpUrl,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 15_000,
  });
  return {
    async send(to, content, messageId) {
      await transport.sendMail({ from, to, messageId, ...content });
    },
    close() {
      transport.close();
    },
  };
}
