import { createHash, randomBytes } from 'node:crypto';

/**
 * Object ids: OpenAI's prefixes followed by a ULID (Crockford base32, 10 characters of millisecond time
 * then 16 of randomness), so ids sort by creation time. Within one millisecond the random part is
 * incremented, so ids made by one process also sort in creation order.
 */

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ULID_LENGTH = 26;

let lastTime = -1;
let lastRandom = 0n;

function encode(value: bigint, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) {
    out = ALPHABET[Number(value & 31n)] + out;
    value >>= 5n;
  }
  return out;
}

/** A new ULID, monotonic within this process. */
export function ulid(now: number = Date.now()): string {
  if (now <= lastTime) {
    lastRandom = (lastRandom + 1n) & ((1n << 80n) - 1n);
    now = lastTime;
  } else {
    lastTime = now;
    lastRandom = BigInt(`0x${randomBytes(10).toString('hex')}`) >> 1n; // leave room to increment
  }
  return encode(BigInt(now), 10) + encode(lastRandom, 16);
}

/** The ULID with every character mirrored in the alphabet: ascending order of the result is newest first. */
export function invertUlid(id: string): string {
  let out = '';
  for (const c of id) out += ALPHABET[31 - ALPHABET.indexOf(c)];
  return out;
}

export const BATCH_ID_PREFIX = 'batch_';
export const FILE_ID_PREFIX = 'file-';

export function newBatchId(): string {
  return BATCH_ID_PREFIX + ulid();
}

export function newFileId(): string {
  return FILE_ID_PREFIX + ulid();
}

/** The ULID inside an id we issued, or null when the id is not one of ours. */
export function ulidOf(id: string, prefix: string): string | null {
  if (!id.startsWith(prefix)) return null;
  const rest = id.slice(prefix.length);
  if (rest.length !== ULID_LENGTH) return null;
  for (const c of rest) if (!ALPHABET.includes(c)) return null;
  return rest;
}

/** The id of a file a batch writes (`output` or `error`): derived from the batch id, so retries reuse it. */
export function batchResultFileId(batchId: string, kind: 'output' | 'error'): string {
  const ulidPart = ulidOf(batchId, BATCH_ID_PREFIX);
  const digest = createHash('sha256').update(`${batchId}\n${kind}`).digest();
  // Keep the batch's time prefix so result files sort beside their batch; fill the rest from the digest.
  const time = ulidPart ? ulidPart.slice(0, 10) : encode(BigInt(Date.now()), 10);
  return FILE_ID_PREFIX + time + encode(BigInt(`0x${digest.subarray(0, 10).toString('hex')}`), 16);
}

/**
 * Makes the `batch_req_…` ids of a batch's output and error lines: the batch's ULID and the line's index,
 * so an id is unique, the same on every retry of the line, and costs no hashing on the hot path. The
 * batch part is worked out once, here, not per line.
 */
export function batchRequestIds(batchId: string): (line: number) => string {
  const prefix = `batch_req_${ulidOf(batchId, BATCH_ID_PREFIX) ?? batchId.replace(/[^A-Za-z0-9]/g, '')}`;
  return (line) => prefix + line.toString(36).padStart(4, '0');
}
