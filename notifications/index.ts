/**
 * Notifications: the outbound port to people, by e-mail. What the message about a batch that ended says, and
 * the SMTP sender. Nothing here knows Temporal or storage: the activity decides when to send, and records it.
 */
export { batchEndMessage, ERRORS_LISTED } from './batch-end-message';
export type { EmailContent } from './batch-end-message';
export { createMailer } from './mailer';
export type { EmailConfig, Mailer } from './mailer';
