import type { BatchUsage } from '../common/batch';
import { emptyUsage } from '../common/batch';

/**
 * The lines of the output and error files, exactly as OpenAI writes them:
 * `{"id", "custom_id", "response": {"status_code", "request_id", "body"} | null, "error": {"code", "message"} | null}`.
 */

/** The line of a request that got an HTTP answer, with the upstream's body as a JSON object. */
export function responseLine(
  id: string,
  customId: string,
  status: number,
  requestId: string,
  bodyText: string,
  body: unknown,
): string {
  // Splicing the upstream's own text avoids re-serializing large bodies; a pretty-printed body would
  // break the one-line-per-request format, so that one is serialized again.
  const bodyJson = bodyText.includes('\n') ? JSON.stringify(body) : bodyText;
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
 * Parses an upstream body. Anything that is not a JSON object is wrapped in an error object, so that
 * `response.body` is always an object, as OpenAI's clients expect.
 */
export function parseUpstreamBody(bodyText: string, status: number): { body: unknown; json: boolean } {
  try {
    const value = JSON.parse(bodyText) as unknown;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return { body: value, json: true };
  } catch {
    // fall through to the wrapper
  }
  return {
    body: {
      error: {
        message: `The upstream answered ${status} with a body that is not a JSON object: ${bodyText.slice(0, 500)}`,
        type: 'upstream_error',
        param: null,
        code: null,
      },
    },
    json: false,
  };
}

/**
 * The token usage of one response body: Chat Completions and Completions name them `prompt_tokens` and
 * `completion_tokens`, the Responses API `input_tokens` and `output_tokens`; both map to the Batch's `usage`.
 */
export function usageOf(body: unknown): BatchUsage {
  const usage = emptyUsage();
  const u = (body as { usage?: Record<string, unknown> } | null)?.usage;
  if (u === null || typeof u !== 'object') return usage;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const details = (v: unknown, key: string) => num((v as Record<string, unknown> | null | undefined)?.[key]);
  usage.input_tokens = num(u.prompt_tokens ?? u.input_tokens);
  usage.output_tokens = num(u.completion_tokens ?? u.output_tokens);
  usage.total_tokens = num(u.total_tokens) || usage.input_tokens + usage.output_tokens;
  usage.input_tokens_details.cached_tokens = details(
    u.prompt_tokens_details ?? u.input_tokens_details,
    'cached_tokens',
  );
  usage.output_tokens_details.reasoning_tokens = details(
    u.completion_tokens_details ?? u.output_tokens_details,
    'reasoning_tokens',
  );
  return usage;
}
