import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { BatchTenant } from '../common/batch';
import type { TenantConfig } from '../config';
import { AuthenticationError } from './errors';

/** The tenant of every request when authentication is off. */
export const DEFAULT_OWNER = 'default';

/**
 * Bearer-key authentication. Each key belongs to a tenant: the one `TENANTS` names it under, or else (a key
 * of `API_KEYS` only) a tenant of its own named by a hash of the key, so keys never reach storage or logs.
 * Keys are compared in constant time. With no keys configured, every request belongs to
 * {@link DEFAULT_OWNER}. Sets `res.locals.owner` (the tenant's name) and `res.locals.tenant`.
 */
export function createAuth(apiKeys: readonly string[] | null, tenants: readonly TenantConfig[] = []): RequestHandler {
  const entries = (apiKeys ?? []).map((key) => {
    const named = tenants.find((t) => t.keys.includes(key));
    const digest = digestOf(key);
    const tenant: BatchTenant = named
      ? { name: named.name, weight: named.weight }
      : { name: `key_${digest.toString('hex').slice(0, 24)}`, weight: 1 };
    return { digest, tenant };
  });
  return (req, res, next) => {
    if (apiKeys === null) {
      res.locals.owner = DEFAULT_OWNER;
      res.locals.tenant = { name: DEFAULT_OWNER, weight: 1 };
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
    const presented = digestOf(match[1].trim());
    // Compare with every key, always, so timing says nothing about which (if any) matched.
    let found: BatchTenant | null = null;
    for (const e of entries) if (timingSafeEqual(e.digest, presented)) found = e.tenant;
    if (found === null) throw new AuthenticationError('Incorrect API key provided.', null, 'invalid_api_key');
    res.locals.owner = found.name;
    res.locals.tenant = found;
    next();
  };
}

function digestOf(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}
