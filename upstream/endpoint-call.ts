import type { UpstreamTarget } from '../config';
import { chatToResponse, UnreadableChatError } from './response-from-chat';
import { responsesToChat, UntranslatableError } from './responses-via-chat';
import type { UpstreamRequest, UpstreamResult } from './types';

/**
 * What a line's endpoint means for the call to its upstream: the path and body sent (a `/v1/responses`
 * line to an upstream with `responses: 'chat'` goes to `/chat/completions`, translated), and what the
 * answer becomes in the line (translated back; a 404 or 405 of an upstream that does not serve the path,
 * said plainly). Every other answer is the upstream's own, untouched.
 */
export interface EndpointCall {
  /** The path sent, as a line url (`/v1/…`). */
  url: string;
  /** The body sent. */
  body: string;
  /** The line's result, from the upstream's. */
  finish: (result: UpstreamResult) => UpstreamResult;
}

/** The call for `req` on `target`, or, when it cannot be made, the line's result at once. */
export function endpointCall(req: UpstreamRequest, target: UpstreamTarget): EndpointCall | UpstreamResult {
  if (req.url !== '/v1/responses' || target.responses !== 'chat') {
    return { url: req.url, body: req.body, finish: (result) => explainMissingEndpoint(result, req, target, req.url) };
  }
  let request: Record<string, unknown>;
  let body: string;
  try {
    request = JSON.parse(req.body) as Record<string, unknown>;
    body = JSON.stringify(responsesToChat(request));
  } catch (err) {
    if (!(err instanceof UntranslatableError)) throw err;
    return {
      kind: 'failure',
      code: 'untranslatable_request',
      message:
        `The upstream ${target.baseUrl} has no /v1/responses, and this request cannot run as a chat completion ` +
        `there: ${err.message} (param '${err.param}').`,
    };
  }
  const url = '/v1/chat/completions';
  return {
    url,
    body,
    finish: (result) => {
      if (result.kind !== 'response' || result.status < 200 || result.status >= 300) {
        return explainMissingEndpoint(result, req, target, url);
      }
      return translateAnswer(result, request);
    },
  };
}

function translateAnswer(
  result: Extract<UpstreamResult, { kind: 'response' }>,
  request: Record<string, unknown>,
): UpstreamResult {
  try {
    const chat = JSON.parse(result.bodyText) as Record<string, unknown>;
    return { ...result, bodyText: JSON.stringify(chatToResponse(chat, request)) };
  } catch (err) {
    if (!(err instanceof UnreadableChatError) && !(err instanceof SyntaxError)) throw err;
    return {
      kind: 'failure',
      code: 'untranslatable_response',
      message: `The upstream's chat completion could not be read as a Response: ${err.message}`,
    };
  }
}

/**
 * A 404 or 405 that is about the path, not the model, as an error a person understands: servers answer
 * a route they lack with "File Not Found" (llama.cpp), `{"detail": "Not Found"}` (vLLM) or "404 page not
 * found" (Ollama), and an unknown model with a message that names the model, which is left alone.
 */
function explainMissingEndpoint(
  result: UpstreamResult,
  req: UpstreamRequest,
  target: UpstreamTarget,
  sentUrl: string,
): UpstreamResult {
  if (result.kind !== 'response' || (result.status !== 404 && result.status !== 405)) return result;
  if (/model/i.test(result.bodyText)) return result;
  const path = sentUrl.replace(/^\/v1(?=\/)/, '');
  const via = sentUrl === req.url ? '' : ` (where this deployment sends ${req.url} lines, translated)`;
  const hint =
    req.url === '/v1/responses' && sentUrl === req.url
      ? ' For a server that has chat completions but no Responses API (llama.cpp, Ollama), set ' +
        'UPSTREAM_RESPONSES_VIA_CHAT=true, or "responses": "chat" on its MODEL_ROUTES entry.'
      : '';
  const message =
    `The upstream ${target.baseUrl} does not serve POST ${path}${via}: it answered ${result.status}` +
    `${upstreamMessage(result.bodyText)}.${hint}`;
  return {
    ...result,
    bodyText: JSON.stringify({
      error: { message, type: 'invalid_request_error', param: null, code: 'unsupported_endpoint' },
    }),
  };
}

/** The upstream's own words, briefly: its error message, or the start of its body. */
function upstreamMessage(bodyText: string): string {
  let text = bodyText.trim();
  try {
    const body = JSON.parse(bodyText) as { error?: { message?: unknown } | string; detail?: unknown };
    const m = typeof body.error === 'string' ? body.error : (body.error?.message ?? body.detail);
    if (typeof m === 'string') text = m;
  } catch {
    // Not JSON: the text as it is.
  }
  return text.length === 0 ? '' : ` (${text.slice(0, 200)})`;
}
