import type { Readable } from 'node:stream';

/** One line of a JSONL stream, without its line break. */
export interface RawLine {
  /** Byte offset of the line's first byte in the object. */
  start: number;
  /** Byte offset just past the line break (the next line's start), or the end of the object. */
  end: number;
  /** The line's bytes; empty when it is too long. */
  bytes: Buffer;
  /** Set when the line is longer than `maxLineBytes`: its bytes were skipped, not held. */
  tooLong?: true;
}

const NEWLINE = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);

/**
 * Splits a byte stream into lines, keeping byte offsets so a line can be found again by range.
 * `baseOffset` is the offset of the stream's first byte in the object. A trailing `\r` is dropped. A line
 * longer than `maxLineBytes` is not buffered: it comes out empty, marked `tooLong`, so memory stays bounded
 * whatever the input.
 */
export async function* readLines(stream: Readable, baseOffset = 0, maxLineBytes = Infinity): AsyncGenerator<RawLine> {
  for await (const lines of readLineBatches(stream, baseOffset, maxLineBytes)) yield* lines;
}

/**
 * {@link readLines}, a batch at a time: the lines that end in each piece the stream delivers. A hot loop
 * over 50,000 lines then waits on a promise per piece, not per line.
 */
export async function* readLineBatches(
  stream: Readable,
  baseOffset = 0,
  maxLineBytes = Infinity,
): AsyncGenerator<RawLine[]> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let overflow = false;
  let pendingStart = baseOffset;
  let offset = baseOffset;
  for await (const data of stream) {
    const chunk = data as Buffer;
    const batch: RawLine[] = [];
    let pos = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, pos);
      if (nl === -1) break;
      const piece = chunk.subarray(pos, nl);
      const end = offset + nl + 1;
      if (overflow || pendingBytes + piece.length > maxLineBytes) {
        batch.push({ start: pendingStart, end, bytes: EMPTY, tooLong: true });
      } else {
        const bytes = pending.length === 0 ? piece : Buffer.concat([...pending, piece]);
        batch.push({ start: pendingStart, end, bytes: trimCr(bytes) });
      }
      pending = [];
      pendingBytes = 0;
      overflow = false;
      pendingStart = end;
      pos = nl + 1;
    }
    if (pos < chunk.length && !overflow) {
      const rest = chunk.subarray(pos);
      if (pendingBytes + rest.length > maxLineBytes) {
        overflow = true;
        pending = [];
        pendingBytes = 0;
      } else {
        pending.push(rest);
        pendingBytes += rest.length;
      }
    }
    offset += chunk.length;
    if (batch.length > 0) yield batch;
  }
  if (overflow) {
    yield [{ start: pendingStart, end: offset, bytes: EMPTY, tooLong: true }];
  } else if (pending.length > 0) {
    const bytes = Buffer.concat(pending);
    if (bytes.length > 0) yield [{ start: pendingStart, end: offset, bytes: trimCr(bytes) }];
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
