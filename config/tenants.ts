import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * Named tenants (`TENANTS`): who may call the API with which keys, where the e-mail about their batches
 * goes, and their share of the upstreams. Parsed once with the rest of the environment.
 */

/** One tenant, as the processes use it. */
export interface TenantConfig {
  /** The tenant's name: its owner id in storage, logs, metrics and search attributes. */
  name: string;
  /** Its API keys (read by the API only). */
  keys: readonly string[];
  /** Where the e-mail about its batches goes; null: none. */
  email: string | null;
  /** Its share of the upstreams against other tenants (1 unless set). */
  weight: number;
}

/**
 * A tenant name is a storage key segment and a label value: letters, digits, `.`, `_`, `-`. Names that
 * start with `key_` are the ones a plain `API_KEYS` key gets (a hash of it), so they are not for the taking.
 */
const TenantName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a tenant name is 1–64 letters, digits, ".", "_" or "-"')
  .refine((name) => !name.startsWith('key_'), 'tenant names starting with "key_" are reserved for API_KEYS keys');

const TenantEntry = z.object({
  keys: z.array(z.string().trim().min(1)).min(1),
  email: z.email().optional(),
  weight: z.number().positive().max(1000).default(1),
});

/**
 * Parses `TENANTS` (JSON, or a path to a JSON file); adds every problem to `problems` and returns what is
 * valid (nothing when any tenant is invalid, so that a half-read list never decides who may call).
 */
export function parseTenants(raw: string | undefined, problems: string[]): TenantConfig[] {
  if (raw === undefined) return [];
  let text = raw;
  if (!raw.trimStart().startsWith('{')) {
    try {
      text = readFileSync(raw, 'utf8');
    } catch (err) {
      problems.push(`TENANTS: cannot read file '${raw}': ${(err as Error).message}`);
      return [];
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    problems.push('TENANTS: not valid JSON');
    return [];
  }
  const result = z.record(z.string(), TenantEntry).safeParse(json);
  const before = problems.length;
  if (!result.success) {
    for (const i of result.error.issues) problems.push(`TENANTS.${i.path.join('.')}: ${i.message}`);
  }
  for (const name of json !== null && typeof json === 'object' ? Object.keys(json) : []) {
    const named = TenantName.safeParse(name);
    if (!named.success) problems.push(`TENANTS.${name}: ${named.error.issues[0].message}`);
  }
  if (!result.success || problems.length > before) return [];
  const tenants = Object.entries(result.data).map(([name, t]) => ({
    name,
    keys: t.keys,
    email: t.email ?? null,
    weight: t.weight,
  }));
  const owners = new Map<string, string>();
  for (const tenant of tenants) {
    for (const key of tenant.keys) {
      const other = owners.get(key);
      if (other !== undefined && other !== tenant.name) {
        problems.push(`TENANTS: a key is listed for both '${other}' and '${tenant.name}'`);
        return [];
      }
      owners.set(key, tenant.name);
    }
  }
  return tenants;
}
