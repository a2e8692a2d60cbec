import { lookup } from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { promises as dns } from 'node:dns';
import { Agent } from 'undici';
import { forbiddenAddressReason, isIpLiteral } from './address-ranges';
import { webhookUrlProblem } from './url';

/**
 * Where a webhook may be sent. The API checks a `webhook_url` at batch creation and the webhook activity
 * again at delivery, on the addresses the connection really uses (so a DNS answer that changes in between,
 * DNS rebinding, does not get through). `WEBHOOK_ALLOW_INSECURE` lifts both checks for local development.
 */

/** A webhook target that resolves to an address it must not reach. */
export class ForbiddenTargetError extends Error {
  readonly code = 'EFORBIDDENTARGET';
  constructor(message: string) {
    super(message);
    this.name = 'ForbiddenTargetError';
  }
}

/** How long a webhook may take to connect: a target that is down must not hold a worker slot. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * What is wrong with a webhook URL: its form (HTTPS, no credentials) and, unless insecure targets are
 * allowed, every address its host resolves to. Null when it may be used.
 */
export async function webhookTargetProblem(url: string, allowInsecure: boolean): Promise<string | null> {
  const form = webhookUrlProblem(url, allowInsecure);
  if (form !== null || allowInsecure) return form;
  const host = bareHost(new URL(url).hostname);
  try {
    if (isIpLiteral(host)) {
      refuseIfForbidden(host, host);
      return null;
    }
    const addresses = await dns.lookup(host, { all: true, verbatim: true });
    for (const a of addresses) refuseIfForbidden(a.address, host);
    return null;
  } catch (err) {
    if (err instanceof ForbiddenTargetError) return err.message;
    return `the host '${host}' does not resolve (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}

/**
 * A `lookup` for `net.connect` that hands out public addresses only, and fails the connection when any
 * address of the host is not public.
 */
export function publicOnlyLookup(
  hostname: string,
  options: LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
): void {
  lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) {
      callback(err, '');
      return;
    }
    try {
      for (const a of addresses) refuseIfForbidden(a.address, hostname);
    } catch (refused) {
      callback(refused as ForbiddenTargetError, '');
      return;
    }
    if (addresses.length === 0)
      callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '');
    else if (options.all === true) callback(null, addresses);
    else callback(null, addresses[0].address, addresses[0].family);
  });
}

/** An HTTP dispatcher for webhooks: short connect timeout, and public addresses only unless insecure is allowed. */
export function webhookDispatcher(allowInsecure: boolean): Agent {
  return new Agent({
    connect: allowInsecure
      ? { timeout: CONNECT_TIMEOUT_MS }
      : { timeout: CONNECT_TIMEOUT_MS, lookup: publicOnlyLookup },
  });
}

function refuseIfForbidden(address: string, host: string): void {
  const reason = forbiddenAddressReason(address);
  if (reason !== null) {
    const shown = address === host ? address : `${host} (${address})`;
    throw new ForbiddenTargetError(`the address ${shown} is not public: ${reason}`);
  }
}

function bareHost(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}
