/**
 * Checks that an upstream's answer is one JSON object, exactly as JSON.parse would accept it, without
 * building it: every successful request passes through here, and parsing each body into objects only to
 * read its `usage` was the largest source of garbage of a chunk. Also finds where the top-level `usage`
 * member's value is, so that only that part is parsed.
 */

export interface CheckedObject {
  /** [start, end) of the top-level `usage` value, or null when there is none. */
  usage: [number, number] | null;
}

const MAX_DEPTH = 256;

class Invalid extends Error {}

/** The object's `usage` position if `text` is a single JSON object (surrounding whitespace allowed), else null. */
export function checkJsonObject(text: string): CheckedObject | null {
  const result: CheckedObject = { usage: null };
  try {
    let i = space(text, 0);
    if (text.charCodeAt(i) !== 0x7b) return null;
    i = object(text, i, 0, result);
    return space(text, i) === text.length ? result : null;
  } catch (err) {
    if (err instanceof Invalid) return null;
    throw err;
  }
}

function space(t: string, i: number): number {
  for (;;) {
    const c = t.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

function value(t: string, i: number, depth: number): number {
  const c = t.charCodeAt(i);
  if (c === 0x22) return string(t, i);
  if (c === 0x7b) return object(t, i, depth, null);
  if (c === 0x5b) return array(t, i, depth);
  if (c === 0x74) return literal(t, i, 'true');
  if (c === 0x66) return literal(t, i, 'false');
  if (c === 0x6e) return literal(t, i, 'null');
  return number(t, i);
}

function object(t: string, i: number, depth: number, top: CheckedObject | null): number {
  if (depth >= MAX_DEPTH) throw new Invalid();
  i = space(t, i + 1);
  if (t.charCodeAt(i) === 0x7d) return i + 1;
  for (;;) {
    if (t.charCodeAt(i) !== 0x22) throw new Invalid();
    const keyStart = i;
    i = space(t, string(t, i));
    if (t.charCodeAt(i) !== 0x3a) throw new Invalid();
    const valueStart = space(t, i + 1);
    i = value(t, valueStart, depth + 1);
    // `"usage"` spelled plainly (a key spelled with escapes is too unlikely to matter); the last one wins,
    // as with JSON.parse.
    if (top !== null && t.startsWith('"usage"', keyStart)) top.usage = [valueStart, i];
    i = space(t, i);
    const c = t.charCodeAt(i);
    if (c === 0x7d) return i + 1;
    if (c !== 0x2c) throw new Invalid();
    i = space(t, i + 1);
  }
}

function array(t: string, i: number, depth: number): number {
  if (depth >= MAX_DEPTH) throw new Invalid();
  i = space(t, i + 1);
  if (t.charCodeAt(i) === 0x5d) return i + 1;
  for (;;) {
    i = space(t, value(t, i, depth + 1));
    const c = t.charCodeAt(i);
    if (c === 0x5d) return i + 1;
    if (c !== 0x2c) throw new Invalid();
    i = space(t, i + 1);
  }
}

function string(t: string, i: number): number {
  for (let j = i + 1; j < t.length; j++) {
    const c = t.charCodeAt(j);
    if (c === 0x22) return j + 1;
    if (c < 0x20) throw new Invalid();
    if (c === 0x5c) {
      const e = t.charCodeAt(++j);
      if (e === 0x75) {
        for (let k = 1; k <= 4; k++) if (!isHex(t.charCodeAt(j + k))) throw new Invalid();
        j += 4;
      } else if (
        e !== 0x22 &&
        e !== 0x5c &&
        e !== 0x2f &&
        e !== 0x62 &&
        e !== 0x66 &&
        e !== 0x6e &&
        e !== 0x72 &&
        e !== 0x74
      ) {
        throw new Invalid();
      }
    }
  }
  throw new Invalid();
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function literal(t: string, i: number, word: string): number {
  if (!t.startsWith(word, i)) throw new Invalid();
  return i + word.length;
}

function digits(t: string, i: number): number {
  const start = i;
  while (t.charCodeAt(i) >= 0x30 && t.charCodeAt(i) <= 0x39) i++;
  if (i === start) throw new Invalid();
  return i;
}

function number(t: string, i: number): number {
  if (t.charCodeAt(i) === 0x2d) i++;
  if (t.charCodeAt(i) === 0x30) i++;
  else i = digits(t, i);
  if (t.charCodeAt(i) === 0x2e) i = digits(t, i + 1);
  const e = t.charCodeAt(i);
  if (e === 0x65 || e === 0x45) {
    i++;
    const s = t.charCodeAt(i);
    if (s === 0x2b || s === 0x2d) i++;
    i = digits(t, i);
  }
  return i;
}
