import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * The one JSON-lines logger of a process (pino). Child loggers carry `batch_id` and `request_id`. Nothing
 * logged ever holds a request or response body, or a key: callers pass ids, counts and codes only, and the
 * redaction below is a second guard for header objects.
 */
export function createLogger(options: { level: string; service: string }, destination?: DestinationStream): Logger {
  return pino(
    {
      level: options.level,
      base: { service: options.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['headers.authorization', '*.headers.authorization', 'authorization', 'apiKey', '*.apiKey'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
