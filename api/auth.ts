import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AuthenticationError } from './errors';

/** The tenant of every request when authentication is off. */
export const DEFAULT_OWNER = 'default';

/**
 * Bearer-key authentication. Each key is a tenant: its owner id is derived from a hash of the key, so
 * keys never reach storage or logs. Keys are compared in constant time. With no keys configured,
 * every request belongs to {@link DEFAULT_OWNER}.
 */
export function createAuth(apiKeys: readonly string[] | null): RequestHandler {
  const digests = (apiKeys ?? []).map((key) => digest(key));
  return (req, res, next) => {
    if (apiKeys === null) {
      res.locals.owner = DEFAULT_OWNER;
      next();
      return;
    }
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (match === null) {
      throw new AuthenticationError(
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        null,
        'invalid_api_key',
      );
    }
    const presented = digest(match[1].trim());
    // Compare with every key, always, so timing says nothing about which (if any) matched.
    let found: Buffer | null = null;
    for (const d of digests) if (timingSafeEqual(d, presented)) found = d;
    if (found === null) throw new AuthenticationError('Incorrect API key provided.', null, 'invalid_api_key');
    res.locals.owner = `key_${found.toString('hex').slice(0, 24)}`;
    next();
  };
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}
