/** Pins the parsing of multipart text fields and of upload filenames. */
import { baseName, bracketFields } from '../../../api/file-service';

describe('bracketFields', () => {
  it('nests bracketed multipart fields as the SDKs send them', () => {
    expect(
      bracketFields({ purpose: 'batch', 'expires_after[anchor]': 'created_at', 'expires_after[seconds]': '3600' }),
    ).toEqual({ purpose: 'batch', expires_after: { anchor: 'created_at', seconds: '3600' } });
  });
});

describe('baseName', () => {
  it.each([
    ['input.jsonl', 'input.jsonl'],
    ['../../etc/passwd', 'passwd'],
    ['C:\\Users\\me\\batch.jsonl', 'batch.jsonl'],
    ['dir/', 'file'],
    ['..', 'file'],
    ['bad\u0000name\n.jsonl', 'badname.jsonl'],
  ])('%j → %j', (input, expected) => {
    expect(baseName(input)).toBe(expected);
  });
});
