import type { Readable } from 'node:stream';

/** One line of a JSONL stream, without its line break. */
export interface RawLine {
  /** Byte offset of the line's first byte in the object. */
  start: number;
  /** Byte offset just past the line break (the next line's start), or the end of the object. */
  end: number;
  bytes: Buffer;
}

const NEWLINE = 0x0a;
const CR = 0x0d;

/**
 * Splits a byte stream into lines, keeping byte offsets so a line can be found again by range.
 * `baseOffset` is the offset of the stream's first byte in the object. A trailing `\r` is dropped.
 */
export async function* readLines(stream: Readable, baseOffset = 0): AsyncGenerator<RawLine> {
  let pending: Buffer[] = [];
  let pendingStart = baseOffset;
  let offset = baseOffset;
  for await (const data of stream) {
    const chunk = data as Buffer;
    let pos = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, pos);
      if (nl === -1) break;
      const piece = chunk.subarray(pos, nl);
      const bytes = pending.length === 0 ? piece : Buffer.concat([...pending, piece]);
      pending = [];
      const end = offset + nl + 1;
      yield { start: pendingStart, end, bytes: trimCr(bytes) };
      pendingStart = end;
      pos = nl + 1;
    }
    if (pos < chunk.length) pending.push(chunk.subarray(pos));
    offset += chunk.length;
  }
  if (pending.length > 0) {
    const bytes = Buffer.concat(pending);
    if (bytes.length > 0) yield { start: pendingStart, end: offset, bytes: trimCr(bytes) };
  }
}

function trimCr(bytes: Buffer): Buffer {
  return bytes.length > 0 && bytes[bytes.length - 1] === CR ? bytes.subarray(0, bytes.length - 1) : bytes;
}

/** True for a line holding only whitespace: not a request, skipped everywhere. */
export function isBlank(bytes: Buffer): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== CR) return false;
  return true;
}
