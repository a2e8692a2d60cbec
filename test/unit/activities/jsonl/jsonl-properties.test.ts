/**
 * Property tests (fast-check) of the JSONL path every input file takes: the line reader splits any bytes,
 * cut into any chunks, exactly as a plain split does, with offsets that find each line again and lines
 * over the limit reported instead of held; the line validator never throws, accepts every well-formed
 * request and refuses every mutation of one with a known code.
 */
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { readLines } from '../../../../activities/jsonl/line-reader';
import { checkRequestLine, MAX_NESTING_DEPTH, nestsDeeperThan } from '../../../../activities/jsonl/request-line';

const CODES = new Set([
  'invalid_json_line',
  'invalid_request',
  'missing_required_parameter',
  'invalid_url',
  'streaming_unsupported',
]);

/** Bytes rich in line breaks, carriage returns and multi-byte UTF-8. */
const bytes = fc
  .array(fc.oneof(fc.constantFrom('\n', '\r\n', '\r', 'é', '日', '{}', ' '), fc.string({ maxLength: 30 })), {
    maxLength: 60,
  })
  .map((parts) => Buffer.from(parts.join('')));

/** Cuts a buffer into chunks at the given fractions. */
function cut(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * buf.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    if (p > from) out.push(buf.subarray(from, p));
    from = Math.max(from, p);
  }
  if (from < buf.length) out.push(buf.subarray(from));
  return out;
}

async function collect(chunks: Buffer[], max?: number) {
  const lines = [];
  for await (const line of readLines(Readable.from(chunks), 0, max)) lines.push(line);
  return lines;
}

describe('readLines', () => {
  it('splits any bytes, in any chunking, as a plain split does, with offsets that find each line', async () => {
    await fc.assert(
      fc.asyncProperty(
        bytes,
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
        async (buf, cuts) => {
          const lines = await collect(cut(buf, cuts));
          const segments = buf.toString('latin1').split('\n');
          // Text after the last line break is a line; nothing after it is not.
          if (segments[segments.length - 1] === '') segments.pop();
          const expected = segments.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
          expect(lines.map((l) => l.bytes.toString('latin1'))).toEqual(expected);
          for (const line of lines) {
            const raw = buf.subarray(line.start, line.end).toString('latin1');
            expect(raw.replace(/\n$/, '').replace(/\r$/, '')).toBe(line.bytes.toString('latin1'));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reports lines over the limit as too long, without their bytes, and keeps the others whole', async () => {
    await fc.assert(
      fc.asyncProperty(
        bytes,
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
        fc.integer({ min: 1, max: 40 }),
        async (buf, cuts, max) => {
          const lines = await collect(cut(buf, cuts), max);
          const all = await collect([buf]);
          expect(lines.map((l) => [l.start, l.end])).toEqual(all.map((l) => [l.start, l.end]));
          lines.forEach((line, i) => {
            // The limit counts the bytes before the line break (a trailing \r included).
            const length = buf.subarray(line.start, line.end).toString('latin1').replace(/\n$/, '').length;
            if (length > max) {
              expect(line.tooLong).toBe(true);
              expect(line.bytes.length).toBe(0);
            } else {
              expect(line.tooLong).toBeUndefined();
              expect(line.bytes).toEqual(all[i].bytes);
            }
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

const json = fc.jsonValue({ maxDepth: 4 });
const request = fc.record({
  custom_id: fc.string({ minLength: 1, maxLength: 20 }),
  method: fc.constant('POST'),
  url: fc.constant('/v1/chat/completions'),
  body: fc.record({
    model: fc.string({ minLength: 1, maxLength: 20 }),
    messages: fc.array(fc.record({ role: fc.constantFrom('user', 'system'), content: fc.string() }), { maxLength: 3 }),
    temperature: fc.option(fc.double({ min: 0, max: 2, noNaN: true }), { nil: undefined }),
    extra: fc.option(json, { nil: undefined }),
  }),
});

describe('checkRequestLine', () => {
  it('never throws, and answers any text with ok or a known code', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          json.map((v) => JSON.stringify(v)),
        ),
        (text) => {
          const check = checkRequestLine(text, '/v1/chat/completions');
          if (!check.ok) expect(CODES.has(check.error.code)).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('accepts every well-formed request', () => {
    fc.assert(
      fc.property(request, (req) => {
        const check = checkRequestLine(JSON.stringify(req), '/v1/chat/completions');
        expect(check).toMatchObject({ ok: true, line: JSON.parse(JSON.stringify(req)) as unknown });
      }),
    );
  });

  it('refuses every request with a required field removed or broken, naming it', () => {
    const field = fc.constantFrom('custom_id', 'method', 'url', 'body', 'body.model', 'body.messages');
    fc.assert(
      fc.property(request, field, fc.constantFrom(null, 'remove', 7, ''), (req, name, broken) => {
        const copy = JSON.parse(JSON.stringify(req)) as Record<string, Record<string, unknown>>;
        const [head, tail] = name.split('.');
        const owner: Record<string, unknown> = tail === undefined ? copy : copy[head];
        const key = tail ?? head;
        if (broken === 'remove') delete owner[key];
        else owner[key] = broken;
        // An empty messages string is still "present"; everything else here is invalid.
        if (name === 'body.messages' && broken !== null && broken !== 'remove') return;
        const check = checkRequestLine(JSON.stringify(copy), '/v1/chat/completions');
        expect(check.ok).toBe(false);
        if (!check.ok) expect(check.error.param).toBe(name);
      }),
    );
  });

  it('measures nesting as a parser would, strings with brackets included', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.string(), (depth, filler) => {
        const text = `${'['.repeat(depth)}${JSON.stringify(filler + '[{')}${']'.repeat(depth)}`;
        expect(nestsDeeperThan(text, MAX_NESTING_DEPTH)).toBe(depth > MAX_NESTING_DEPTH);
      }),
    );
  });
});
