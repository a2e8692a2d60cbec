/** Pins how JSONL is split: byte offsets that find a line again, CRLF, a missing final newline, any chunking. */
import { Readable } from 'node:stream';
import { isBlank, readLines } from '../../../activities/line-reader';

async function collect(parts: string[], base = 0) {
  const out = [];
  for await (const l of readLines(Readable.from(parts.map((p) => Buffer.from(p))), base)) {
    out.push({ start: l.start, end: l.end, text: l.bytes.toString() });
  }
  return out;
}

describe('readLines', () => {
  const text = 'alpha\r\nbé\n\nlast';
  const expected = [
    { start: 0, end: 7, text: 'alpha' },
    { start: 7, end: 11, text: 'bé' },
    { start: 11, end: 12, text: '' },
    { start: 12, end: 16, text: 'last' },
  ];

  it('keeps byte offsets across every way of cutting the stream', async () => {
    const bytes = Buffer.from(text);
    for (let size = 1; size <= bytes.length; size++) {
      const parts: string[] = [];
      for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size).toString('latin1'));
      const lines = [];
      const stream = Readable.from(parts.map((p) => Buffer.from(p, 'latin1')));
      for await (const l of readLines(stream)) lines.push({ start: l.start, end: l.end, text: l.bytes.toString() });
      expect(lines).toEqual(expected);
    }
  });

  it('offsets lines by where the stream starts', async () => {
    expect(await collect(['x\ny\n'], 100)).toEqual([
      { start: 100, end: 102, text: 'x' },
      { start: 102, end: 104, text: 'y' },
    ]);
  });

  it('yields nothing for an empty stream', async () => {
    expect(await collect([])).toEqual([]);
  });

  it('treats whitespace-only lines as blank', () => {
    expect(isBlank(Buffer.from(' \t\r'))).toBe(true);
    expect(isBlank(Buffer.from(' x '))).toBe(false);
  });
});
