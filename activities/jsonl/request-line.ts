import type { BatchEndpoint, BatchError } from '../../common/batch';
import type { BodyFacts } from './endpoint-rules';
import { checkBody, isProblem } from './endpoint-rules';

/** A request line that passed validation. */
export interface RequestLine {
  custom_id: string;
  method: 'POST';
  url: string;
  /** `model` is absent only on a moderations line (see {@link BodyFacts}). */
  body: Record<string, unknown> & { model?: string };
}

/** Deepest nesting of objects and arrays a request line may have; no real request comes near it. */
export const MAX_NESTING_DEPTH = 128;

export type LineCheck = ({ ok: true; line: RequestLine } & BodyFacts) | { ok: false; error: Omit<BatchError, 'line'> };

/**
 * Checks one line of an input file against the rules of OpenAI's Batch API, with OpenAI's error codes
 * where they are known; the body against its endpoint's rules (`endpoint-rules.ts`). Uniqueness of
 * `custom_id` and limits over all lines are checked by the caller, which sees every line.
 */
export function checkRequestLine(text: string, endpoint: BatchEndpoint): LineCheck {
  if (nestsDeeperThan(text, MAX_NESTING_DEPTH)) {
    return fail(
      'invalid_json_line',
      `This line nests objects and arrays deeper than ${MAX_NESTING_DEPTH} levels, the most a request may.`,
      null,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail('invalid_json_line', 'This line is not parseable as valid JSON.', null);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return fail('invalid_request', 'Each line must be a JSON object.', null);
  }
  const obj = value as Record<string, unknown>;
  for (const field of ['custom_id', 'method', 'url', 'body'] as const) {
    if (obj[field] === undefined || obj[field] === null) {
      return fail('missing_required_parameter', `Missing required parameter: '${field}'.`, field);
    }
  }
  if (typeof obj.custom_id !== 'string' || obj.custom_id.length === 0) {
    return fail('invalid_request', "Invalid 'custom_id': expected a non-empty string.", 'custom_id');
  }
  if (obj.method !== 'POST') {
    return fail('invalid_request', "Invalid value for 'method': only 'POST' is supported.", 'method');
  }
  if (obj.url !== endpoint) {
    return fail('invalid_url', 'The URL provided for this request does not match the batch endpoint.', 'url');
  }
  const body = obj.body;
  if (typeof body !== 'object' || Array.isArray(body) || body === null) {
    return fail('invalid_request', "Invalid 'body': expected an object.", 'body');
  }
  const facts = checkBody(endpoint, body as Record<string, unknown>);
  if (isProblem(facts)) return { ok: false, error: facts };
  return { ok: true, line: obj as unknown as RequestLine, ...facts };
}

function fail(code: string, message: string, param: string | null): LineCheck {
  return { ok: false, error: { code, message, param } };
}

/**
 * Whether JSON text nests objects and arrays deeper than `max`. Most lines hold too few brackets to get
 * there, which `indexOf` (fast) tells; only the others are scanned character by character.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  let brackets = 0;
  for (let i = text.indexOf('{'); i !== -1 && brackets <= max; i = text.indexOf('{', i + 1)) brackets++;
  for (let i = text.indexOf('['); i !== -1 && brackets <= max; i = text.indexOf('[', i + 1)) brackets++;
  if (brackets <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}
