/**
 * Pins our object ids: a prefix and a 26-character upper-case ULID whose time part is the creation time,
 * strictly increasing within a process (in one millisecond and when the clock steps back), inverted for
 * newest-first listing, and result-file and request ids derived from the batch id exactly as before.
 */
import fc from 'fast-check';
import { decodeTime } from 'ulidx';
import { batchRequestIds, batchResultFileId, invertUlid, newBatchId, newFileId, ulid, ulidOf } from '../../../storage';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

describe('ulid', () => {
  it('is 26 Crockford characters led by the time of its creation', () => {
    const before = Date.now();
    const id = ulid();
    expect(id).toMatch(ULID);
    expect(decodeTime(id)).toBeGreaterThanOrEqual(before);
    expect(decodeTime(id)).toBeLessThanOrEqual(Date.now());
    expect(newBatchId()).toMatch(/^batch_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(newFileId()).toMatch(/^file-[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it('sorts by creation, and inverted ids sort newest first', () => {
    const ids = Array.from({ length: 50 }, () => ulid());
    expect([...ids].sort()).toEqual(ids);
    expect(ids.map(invertUlid).sort()).toEqual(ids.map(invertUlid).reverse());
    expect(invertUlid(invertUlid(ids[0]))).toBe(ids[0]);
  });

  it('strictly increases whatever the clock says: same millisecond, later, or earlier', () => {
    const start = Date.now() + 60_000;
    let last = ulid(start);
    let latest = start;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 1, maxLength: 50 }), (steps) => {
        for (const step of steps) {
          const now = latest + step;
          const id = ulid(now);
          expect(id).toMatch(ULID);
          expect(id > last).toBe(true);
          latest = Math.max(latest, now);
          // A clock that steps back keeps the latest time seen.
          expect(decodeTime(id)).toBe(latest);
          last = id;
        }
      }),
    );
  });

  it('inverts order for any two ids', () => {
    const id = fc.stringMatching(ULID);
    fc.assert(
      fc.property(id, id, (a, b) => {
        fc.pre(a !== b);
        expect(a < b).toBe(invertUlid(a) > invertUlid(b));
        expect(invertUlid(invertUlid(a))).toBe(a);
      }),
    );
  });
});

describe('ulidOf', () => {
  it('finds the ULID of an id we issued, and nothing in one we did not', () => {
    const id = newBatchId();
    expect(ulidOf(id, 'batch_')).toBe(id.slice(6));
    for (const other of [
      'file-01J0000000ABCDEFGHJKMNPQRS',
      'batch_01J0000000ABCDEFGHJKMNPQR',
      'batch_01J0000000ABCDEFGHJKMNPQRST',
      'batch_01j0000000abcdefghjkmnpqrs',
      'batch_01J0000000ABCDEFGHIKMNPQRS',
      'batch_01J0000000ABCDEFGHJKMNPQRſ',
      'batch_legacy-id',
    ]) {
      expect(ulidOf(other, 'batch_')).toBeNull();
    }
  });
});

describe('derived ids', () => {
  // Pinned: result files and request lines of running batches were named this way before.
  it('names result files after the batch, the same on every call', () => {
    expect(batchResultFileId('batch_01J0000000ABCDEFGHJKMNPQRS', 'output')).toBe('file-01J00000002MSY2FFNYYE587ZC');
    expect(batchResultFileId('batch_01J0000000ABCDEFGHJKMNPQRS', 'error')).toBe('file-01J0000000SSVE0JCCDM7MRPDX');
    expect(batchResultFileId('batch_legacy-id', 'output')).toMatch(/^file-[0-9A-HJKMNP-TV-Z]{10}9E4Y4V8FAB38A92S$/);
    expect(batchResultFileId('batch_legacy-id', 'error')).toMatch(/^file-[0-9A-HJKMNP-TV-Z]{10}B1PPPZP533ZN3TDR$/);
  });

  it('names request lines after the batch and the line', () => {
    expect(batchRequestIds('batch_01J0000000ABCDEFGHJKMNPQRS')(7)).toBe('batch_req_01J0000000ABCDEFGHJKMNPQRS0007');
    expect(batchRequestIds('batch_legacy-id')(7)).toBe('batch_req_batchlegacyid0007');
  });
});
