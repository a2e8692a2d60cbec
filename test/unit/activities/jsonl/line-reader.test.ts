/** Pins how JSONL is split: byte offsets that find a line again, CRLF, a missing final newline, any chunking. */
import { Readable } from 'node:stream';
import { isBlank, readLineBatches, readLines } from '../../../../activities/jsonl/line-reader';

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

  it('gives the same lines a stream piece at a time, each batch the lines ending in its piece', async () => {
    const parts = ['a\nbb', 'b\nc\nd', 'dd', '\n', 'tail'];
    const batches = [];
    for await (const batch of readLineBatches(Readable.from(parts.map((p) => Buffer.from(p))), 10)) {
      batches.push(batch.map((l) => ({ start: l.start, end: l.end, text: l.bytes.toString() })));
    }
    expect(batches).toEqual([
      [{ start: 10, end: 12, text: 'a' }],
      [
        { start: 12, end: 16, text: 'bbb' },
        { start: 16, end: 18, text: 'c' },
      ],
      [{ start: 18, end: 22, text: 'ddd' }],
      [{ start: 22, end: 26, text: 'tail' }],
    ]);
    expect(batches.flat()).toEqual(await collect(parts, 10));
  });

  it('marks a line over the limit as too long without holding it, in batches as one by one', async () => {
    const parts = ['ok\n', 'x'.repeat(30), 'y'.repeat(30), '\nfine\n'];
    const stream = () => Readable.from(parts.map((p) => Buffer.from(p)));
    const one = [];
    for await (const l of readLines(stream(), 0, 40)) one.push({ end: l.end, tooLong: l.tooLong ?? false });
    const batched = [];
    for await (const b of readLineBatches(stream(), 0, 40))
      batched.push(...b.map((l) => ({ end: l.end, tooLong: l.tooLong ?? false })));
    expect(one).toEqual([
      { end: 3, tooLong: false },
      { end: 64, tooLong: true },
      { end: 69, tooLong: false },
    ]);
    expect(batched).toEqual(one);
  });

  it('treats whitespace-only lines as blank', () => {
    expect(isBlank(Buffer.from(' \t\r'))).toBe(true);
    expect(isBlank(Buffer.from(' x '))).toBe(false);
  });
});
