import type { BatchUsage } from '../../common/batch';

/**
 * The lines of the output and error files, exactly as OpenAI writes them:
 * `{"id", "custom_id", "response": {"status_code", "request_id", "body"} | null, "error": {"code", "message"} | null}`.
 */

/** An upstream answer, read for its result line. */
export interface UpstreamBody {
  /** True when the body is one JSON object; anything else is wrapped in an error object. */
  json: boolean;
  /** The body as it goes into the line: JSON on one line. */
  bodyJson: string;
  /** The body's `usage` value, parsed, or null. */
  usage: unknown;
}

/**
 * Reads an upstream body: parses it, keeps its `usage`, and puts it into the line as the upstream's own
 * text, unless it spans several lines (pretty-printed), which would break one-line-per-request; anything
 * that is not a JSON object is wrapped in an error object, so that `response.body` is always an object, as
 * OpenAI's clients expect. (`JSON.parse` is native and its objects die young: cheaper here than a scanner
 * in JavaScript that builds nothing, measured ~5–10% of a chunk's CPU.)
 */
export function readUpstreamBody(bodyText: string, status: number): UpstreamBody {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    const wrapper = {
      error: {
        message: `The upstream answered ${status} with a body that is not a JSON object: ${bodyText.slice(0, 500)}`,
        type: 'upstream_error',
        param: null,
        code: null,
      },
    };
    return { json: false, bodyJson: JSON.stringify(wrapper), usage: null };
  }
  const usage = (parsed as { usage?: unknown }).usage ?? null;
  const multiline = bodyText.includes('\n') || bodyText.includes('\r');
  return { json: true, bodyJson: multiline ? JSON.stringify(parsed) : bodyText, usage };
}

/** The line of a request that got an HTTP answer; `bodyJson` from {@link readUpstreamBody}. */
export function responseLine(
  id: string,
  customId: string,
  status: number,
  requestId: string,
  bodyJson: string,
): string {
  return (
    `{"id":${JSON.stringify(id)},"custom_id":${JSON.stringify(customId)},` +
    `"response":{"status_code":${status},"request_id":${JSON.stringify(requestId)},"body":${bodyJson}},"error":null}`
  );
}

/** The line of a request that got no HTTP answer, or never ran. */
export function errorLine(id: string, customId: string, code: string, message: string): string {
  return JSON.stringify({ id, custom_id: customId, response: null, error: { code, message } });
}

/**
 * The token usage of one response, from its `usage` object, in each endpoint's own shape: Chat
 * Completions and Completions `prompt_tokens`, `completion_tokens` (+ `prompt_tokens_details.cached_tokens`,
 * `completion_tokens_details.reasoning_tokens`); Embeddings `prompt_tokens` and `total_tokens`, no output;
 * the Responses API `input_tokens`, `output_tokens` (+ `input_tokens_details.cached_tokens`,
 * `output_tokens_details.reasoning_tokens`); Moderations none (all zero). All map to the Batch's `usage`.
 */
export function usageOf(u: unknown): BatchUsage {
  const n = new Float64Array(USAGE_FIELDS);
  usageNumbers(u, n, 0);
  return usageFromNumbers(n, 0);
}

/** How many numbers {@link usageNumbers} writes per response. */
export const USAGE_FIELDS = 5;

/**
 * Writes a response's usage as five numbers at `at`: input, cached input, output, reasoning, total. A chunk
 * keeps these in one typed array instead of an object per line.
 */
export function usageNumbers(u: unknown, into: Float64Array, at: number): void {
  const o = u !== null && typeof u === 'object' ? (u as Record<string, unknown>) : {};
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const details = (v: unknown, key: string) => num((v as Record<string, unknown> | null | undefined)?.[key]);
  const input = num(o.prompt_tokens ?? o.input_tokens);
  const output = num(o.completion_tokens ?? o.output_tokens);
  into[at] = input;
  into[at + 1] = details(o.prompt_tokens_details ?? o.input_tokens_details, 'cached_tokens');
  into[at + 2] = output;
  into[at + 3] = details(o.completion_tokens_details ?? o.output_tokens_details, 'reasoning_tokens');
  into[at + 4] = num(o.total_tokens) || input + output;
}

/** The usage object of the numbers at `at`, as {@link usageNumbers} wrote them. */
export function usageFromNumbers(n: Float64Array, at: number): BatchUsage {
  return {
    input_tokens: n[at],
    input_tokens_details: { cached_tokens: n[at + 1] },
    output_tokens: n[at + 2],
    output_tokens_details: { reasoning_tokens: n[at + 3] },
    total_tokens: n[at + 4],
  };
}
