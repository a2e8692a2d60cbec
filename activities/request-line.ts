import type { BatchEndpoint, BatchError } from '../common/batch';

/** A request line that passed validation. */
export interface RequestLine {
  custom_id: string;
  method: 'POST';
  url: string;
  body: Record<string, unknown> & { model: string };
}

export type LineCheck = { ok: true; line: RequestLine } | { ok: false; error: Omit<BatchError, 'line'> };

/**
 * Checks one line of an input file against the rules of OpenAI's Batch API, with OpenAI's error codes
 * where they are known. Uniqueness of `custom_id` is checked by the caller, which sees every line.
 */
export function checkRequestLine(text: string, endpoint: BatchEndpoint): LineCheck {
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
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || b.model.length === 0) {
    return fail('invalid_request', 'Model parameter is required.', 'body.model');
  }
  if (b.stream === true) {
    const api = endpoint === '/v1/chat/completions' ? 'Chat Completions' : 'Completions';
    return fail('streaming_unsupported', `${api}: Streaming is not supported in the Batch API.`, 'body.stream');
  }
  if (endpoint === '/v1/chat/completions' && b.messages === undefined) {
    return fail('invalid_request', 'Messages parameter is required.', 'body.messages');
  }
  if (endpoint === '/v1/completions' && b.prompt === undefined) {
    return fail('invalid_request', 'Prompt parameter is required.', 'body.prompt');
  }
  return { ok: true, line: obj as unknown as RequestLine };
}

function fail(code: string, message: string, param: string | null): LineCheck {
  return { ok: false, error: { code, message, param } };
}
