/**
 * The shapes of `input` that the embeddings and moderations endpoints accept, as the `openai` npm package
 * types them (`EmbeddingCreateParams.input: string | Array<string> | Array<number> | Array<Array<number>>`,
 * `ModerationCreateParams.input: string | Array<string> | Array<ModerationMultiModalInput>`), and the
 * problems a line's body can have, worded in OpenAI's patterns.
 */

/** A problem of a line's body: an `errors.data` entry without its line. */
export interface BodyProblem {
  code: string;
  message: string;
  param: string;
}

/** A problem with `param` `body.<field>` (indexes at the end of the field are left out of `param`). */
export function problem(code: string, message: string, field: string): BodyProblem {
  return { code, message, param: `body.${field.replace(/(\[\d+\])+$/, '')}` };
}

/** OpenAI's pattern: "Invalid type for 'input': expected a string, but got an object instead." */
export function invalidType(field: string, expected: string, got: unknown): BodyProblem {
  return problem(
    'invalid_request',
    `Invalid type for '${field}': expected ${expected}, but got ${describeType(got)} instead.`,
    field,
  );
}

/** OpenAI's pattern: "Invalid 'messages': empty array. Expected an array with minimum length 1, …". */
export function emptyArray(field: string): BodyProblem {
  return problem(
    'invalid_request',
    `Invalid '${field}': empty array. Expected an array with minimum length 1, but got an empty array instead.`,
    field,
  );
}

function emptyString(field: string): BodyProblem {
  return problem(
    'invalid_request',
    `Invalid '${field}': empty string. Expected a string with minimum length 1, but got an empty string instead.`,
    field,
  );
}

/** "a string", "an integer", "an array", … as OpenAI's messages name what they got. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

const isTokenId = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= 0;

/**
 * The number of embedding inputs in `input`: one for a string or one array of token ids, one per item of
 * an array of strings or of token-id arrays. Nothing may be empty (the SDK's doc: the input "cannot be an
 * empty string"), nor mix kinds.
 */
export function embeddingInputs(input: unknown): number | BodyProblem {
  const expected = 'a string, an array of strings, an array of token ids or an array of token-id arrays';
  if (typeof input === 'string') return input.length > 0 ? 1 : emptyString('input');
  if (!Array.isArray(input)) return invalidType('input', expected, input);
  if (input.length === 0) return emptyArray('input');
  const first: unknown = input[0];
  if (isTokenId(first)) {
    const bad = input.findIndex((x) => !isTokenId(x));
    return bad === -1 ? 1 : invalidType(`input[${bad}]`, 'a token id (an integer of at least 0)', input[bad]);
  }
  const kind = typeof first === 'string' ? 'string' : Array.isArray(first) ? 'tokens' : null;
  if (kind === null) return invalidType('input[0]', 'a string, a token id or an array of token ids', first);
  for (let i = 0; i < input.length; i++) {
    const item: unknown = input[i];
    const field = `input[${i}]`;
    if (kind === 'string') {
      if (typeof item !== 'string') return invalidType(field, 'a string, as every item of the array', item);
      if (item.length === 0) return emptyString(field);
    } else {
      if (!Array.isArray(item)) return invalidType(field, 'an array of token ids, as every item of the array', item);
      if (item.length === 0) return emptyArray(field);
      const bad = item.findIndex((x) => !isTokenId(x));
      if (bad !== -1) return invalidType(`${field}[${bad}]`, 'a token id (an integer of at least 0)', item[bad]);
    }
  }
  return input.length;
}

/** Moderations' `input`: a string, strings, or multi-modal parts (`text` and `image_url` objects). */
export function moderationInput(input: unknown): number | BodyProblem {
  if (typeof input === 'string') return 0;
  const isPart = (x: unknown) => isObject(x) && (x.type === 'text' || x.type === 'image_url');
  if (Array.isArray(input)) {
    if (input.length === 0) return emptyArray('input');
    if (input.every((x) => typeof x === 'string') || input.every(isPart)) return 0;
  }
  return invalidType('input', 'a string, an array of strings or an array of multi-modal inputs', input);
}
