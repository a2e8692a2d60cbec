/**
 * Reads the fields of a request line that a chunk needs without building the line as objects: the body
 * is passed upstream as the very text it has in the file. A 4 KB line would otherwise be parsed into
 * objects and serialized again just to be sent on, which doubles the garbage of the hot path.
 *
 * Lines reach this only after validation parsed them with JSON.parse, so they are valid JSON objects.
 */

import { DEFAULT_MODERATION_MODEL } from './endpoint-rules';

export interface ScannedRequest {
  customId: string;
  url: string;
  /** The model that picks the route: `body.model`, or a moderations line's default model when it names none. */
  model: string;
  /** The raw JSON text of `body`. */
  bodyText: string;
}

/**
 * The raw value ranges of the wanted top-level members of a JSON object text, [start, end) by key. Keys
 * are compared as written; only a key with an escape in it is decoded.
 */
function members(text: string, wanted: readonly string[]): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  let i = skipSpace(text, 0);
  if (text[i] !== '{') throw new SyntaxError('expected an object');
  i = skipSpace(text, i + 1);
  if (text[i] === '}') return out;
  for (;;) {
    const keyEnd = endOfString(text, i);
    const raw = text.slice(i + 1, keyEnd - 1);
    const key = raw.includes('\\') ? (JSON.parse(text.slice(i, keyEnd)) as string) : raw;
    i = skipSpace(text, keyEnd);
    if (text[i] !== ':') throw new SyntaxError('expected ":"');
    const valueStart = skipSpace(text, i + 1);
    const valueEnd = endOfValue(text, valueStart);
    if (wanted.includes(key)) out.set(key, [valueStart, valueEnd]);
    i = skipSpace(text, valueEnd);
    if (text[i] === '}') return out;
    if (text[i] !== ',') throw new SyntaxError('expected ","');
    i = skipSpace(text, i + 1);
  }
}

function skipSpace(text: string, i: number): number {
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  return i;
}

/** Index just past the string starting at `i` (which is a quote). */
function endOfString(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x5c)
      j++; // backslash: skip the escaped character
    else if (c === 0x22) return j + 1;
  }
  throw new SyntaxError('unterminated string');
}

/** Index just past the value starting at `i`. */
function endOfValue(text: string, i: number): number {
  const c = text[i];
  if (c === '"') return endOfString(text, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const d = text.charCodeAt(j);
      if (d === 0x22) j = endOfString(text, j) - 1;
      else if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    throw new SyntaxError('unterminated value');
  }
  let j = i;
  while (j < text.length && !',}] \t\r\n'.includes(text[j])) j++;
  return j;
}

const TOP_KEYS = ['custom_id', 'url', 'body'] as const;
const BODY_KEYS = ['model'] as const;

/** The fields of a validated request line; the body stays text. */
export function scanRequestLine(text: string): ScannedRequest {
  const top = members(text, TOP_KEYS);
  const value = (key: string): string => {
    const range = top.get(key);
    if (range === undefined) throw new SyntaxError(`missing '${key}'`);
    return text.slice(range[0], range[1]);
  };
  const bodyText = value('body');
  const url = JSON.parse(value('url')) as string;
  const modelRange = members(bodyText, BODY_KEYS).get('model');
  const model = modelRange === undefined ? null : (JSON.parse(bodyText.slice(modelRange[0], modelRange[1])) as unknown);
  if (typeof model !== 'string' && url !== '/v1/moderations') throw new SyntaxError("missing 'body.model'");
  return {
    customId: JSON.parse(value('custom_id')) as string,
    url,
    model: typeof model === 'string' ? model : DEFAULT_MODERATION_MODEL,
    bodyText,
  };
}
