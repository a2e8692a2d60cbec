import { createHash } from 'node:crypto';
import { B32_CHARACTERS, encodeTime, isValid, monotonicFactory } from 'ulidx';

/**
 * Object ids: OpenAI's prefixes followed by a ULID (Crockford base32, 10 characters of millisecond time
 * then 16 of randomness), so ids sort by creation time. Within one millisecond the random part is
 * incremented, so ids made by one process also sort in creation order.
 */

const nextUlid = monotonicFactory();

/** A new ULID, monotonic within this process (also when the clock steps back). */
export function ulid(now: number = Date.now()): string {
  return nextUlid(now);
}

/** The ULID with every character mirrored in the alphabet: ascending order of the result is newest first. */
export function invertUlid(id: string): string {
  let out = '';
  for (const c of id) out += B32_CHARACTERS[31 - B32_CHARACTERS.indexOf(c)];
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
  // ulidx accepts lower case too; the ids we issue are upper case, and so are the index keys made from them.
  return isValid(rest) && rest === rest.toUpperCase() ? rest : null;
}

/** The id of a file a batch writes (`output` or `error`): derived from the batch id, so retries reuse it. */
export function batchResultFileId(batchId: string, kind: 'output' | 'error'): string {
  const ulidPart = ulidOf(batchId, BATCH_ID_PREFIX);
  const digest = createHash('sha256').update(`${batchId}\n${kind}`).digest();
  // Keep the batch's time prefix so result files sort beside their batch; fill the rest from the digest.
  const time = ulidPart ? ulidPart.slice(0, 10) : encodeTime(Date.now(), 10);
  // 80 bits of digest as 16 characters: ulidx's encoder takes numbers below 2^48, so two 40-bit halves.
  return FILE_ID_PREFIX + time + encodeTime(digest.readUIntBE(0, 5), 8) + encodeTime(digest.readUIntBE(5, 5), 8);
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
