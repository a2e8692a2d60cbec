/** Pins the raw reader of request lines against JSON.parse, on lines of any shape fast-check can think of. */
import fc from 'fast-check';
import { scanRequestLine } from '../../../../activities/jsonl/json-scan';

const jsonValue = fc.jsonValue({ maxDepth: 4 });

describe('scanRequestLine', () => {
  it('reads what JSON.parse reads, and keeps the body as its own text', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme' }),
        fc.string(),
        fc.string({ unit: 'binary' }),
        fc.dictionary(fc.string(), jsonValue, { maxKeys: 5 }),
        fc.dictionary(fc.string(), jsonValue, { maxKeys: 3 }),
        fc.boolean(),
        (customId, url, model, bodyExtra, topExtra, spaced) => {
          const body = { ...bodyExtra, model };
          const line = { ...topExtra, custom_id: customId, method: 'POST', url, body };
          const text = spaced ? JSON.stringify(line, null, 1).replace(/\n/g, ' ') : JSON.stringify(line);
          const scanned = scanRequestLine(text);
          expect(scanned.customId).toBe(customId);
          expect(scanned.url).toBe(url);
          expect(scanned.model).toBe(model);
          expect(JSON.parse(scanned.bodyText)).toEqual(JSON.parse(JSON.stringify(body)));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('takes the last of repeated keys, as JSON.parse does', () => {
    const text = '{"custom_id":"a","custom_id":"b","method":"POST","url":"/v1/x","body":{"model":"m1","model":"m2"}}';
    expect(scanRequestLine(text)).toEqual({
      customId: 'b',
      url: '/v1/x',
      model: 'm2',
      bodyText: '{"model":"m1","model":"m2"}',
    });
  });

  it('copes with escapes and brackets inside strings', () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'a "quoted" {brace} [bracket] \\\\ \\n end' }] };
    const text = JSON.stringify({ body, url: '/v1/chat/completions', custom_id: 'x"}', method: 'POST' });
    const scanned = scanRequestLine(text);
    expect(scanned.customId).toBe('x"}');
    expect(JSON.parse(scanned.bodyText)).toEqual(body);
  });

  it('routes a moderations line without a model as the default moderation model, and only that one', () => {
    const line = (url: string) => JSON.stringify({ custom_id: 'm', method: 'POST', url, body: { input: 'text' } });
    expect(scanRequestLine(line('/v1/moderations'))).toMatchObject({
      model: 'omni-moderation-latest',
      bodyText: '{"input":"text"}',
    });
    expect(() => scanRequestLine(line('/v1/embeddings'))).toThrow(/body\.model/);
  });
});
