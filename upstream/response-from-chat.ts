/**
 * A chat completion as the Response object its `/v1/responses` line asked for (the other half of
 * `responses-via-chat.ts`), in the shape of the `openai` npm package's `Response`: the first choice's text
 * is an `output_text` part of one assistant message (its refusal a `refusal` part), its tool calls are
 * `function_call` items, and the reasoning text llama.cpp, vLLM (`reasoning_content`) and Ollama
 * (`reasoning`) return beside the answer is a `reasoning` item with a `reasoning_text` part, first.
 * `finish_reason: "length"` makes the response `incomplete` (`max_output_tokens`), `content_filter` too;
 * usage is renamed (`prompt_tokens` → `input_tokens`, `completion_tokens` → `output_tokens`, and their
 * cached and reasoning details). The request's own settings (instructions, tools, tool_choice, metadata, …)
 * are echoed back, as OpenAI does. Logprobs are not translated.
 */

type Json = Record<string, unknown>;

/** The answer is not a chat completion with a message in its first choice. */
export class UnreadableChatError extends Error {
  readonly name = 'UnreadableChatError';
}

/** The Response object of a chat completion answering `request` (the Responses API body of the line). */
export function chatToResponse(chat: Json, request: Json): Json {
  const choice = Array.isArray(chat.choices) ? (chat.choices[0] as Json | undefined) : undefined;
  const message = choice?.message as Json | undefined;
  if (message === undefined || message === null || typeof message !== 'object') {
    throw new UnreadableChatError('The chat completion has no message in its first choice.');
  }
  const suffix = typeof chat.id === 'string' ? chat.id.replace(/^chatcmpl-?/, '') : `${Date.now()}`;
  const incomplete =
    choice?.finish_reason === 'length'
      ? { reason: 'max_output_tokens' }
      : choice?.finish_reason === 'content_filter'
        ? { reason: 'content_filter' }
        : null;
  const createdAt = typeof chat.created === 'number' ? chat.created : Math.floor(Date.now() / 1000);
  const response: Json = {
    id: `resp_${suffix}`,
    object: 'response',
    created_at: createdAt,
    status: incomplete === null ? 'completed' : 'incomplete',
    completed_at: incomplete === null ? createdAt : null,
    background: false,
    error: null,
    incomplete_details: incomplete,
    instructions: request.instructions ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    metadata: request.metadata ?? {},
    model: chat.model ?? request.model,
    output: outputOf(message, suffix, incomplete === null ? 'completed' : 'incomplete'),
    parallel_tool_calls: request.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: false,
    temperature: request.temperature ?? null,
    text: request.text ?? { format: { type: 'text' } },
    tool_choice: request.tool_choice ?? 'auto',
    tools: request.tools ?? [],
    top_p: request.top_p ?? null,
    truncation: 'disabled',
  };
  const usage = usageOf(chat.usage);
  if (usage !== null) response.usage = usage;
  return response;
}

/** The output items: reasoning, then the assistant's message, then its function calls. */
function outputOf(message: Json, suffix: string, status: string): Json[] {
  const output: Json[] = [];
  const reasoning = message.reasoning_content ?? message.reasoning;
  if (typeof reasoning === 'string' && reasoning.length > 0) {
    output.push({
      type: 'reasoning',
      id: `rs_${suffix}`,
      summary: [],
      content: [{ type: 'reasoning_text', text: reasoning }],
    });
  }
  const calls = Array.isArray(message.tool_calls) ? (message.tool_calls as Json[]) : [];
  const content: Json[] = [];
  // An empty text is still the answer, unless the turn only calls tools (servers send "" or null then).
  if (typeof message.content === 'string' && (message.content.length > 0 || calls.length === 0)) {
    content.push({ type: 'output_text', text: message.content, annotations: [], logprobs: [] });
  }
  if (typeof message.refusal === 'string' && message.refusal.length > 0) {
    content.push({ type: 'refusal', refusal: message.refusal });
  }
  // A turn that only calls tools has no message; any other turn has one, even an empty one.
  if (content.length > 0 || calls.length === 0) {
    output.push({ type: 'message', id: `msg_${suffix}`, status, role: 'assistant', content });
  }
  calls.forEach((call, k) => {
    const fn = (call.function ?? {}) as Json;
    output.push({
      type: 'function_call',
      id: `fc_${suffix}_${k}`,
      call_id: call.id,
      name: fn.name,
      arguments: typeof fn.arguments === 'string' ? fn.arguments : JSON.stringify(fn.arguments ?? {}),
      status: 'completed',
    });
  });
  return output;
}

/** Chat usage as Responses usage; null when the answer has none. */
function usageOf(usage: unknown): Json | null {
  if (usage === null || typeof usage !== 'object') return null;
  const u = usage as Json;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const detail = (v: unknown, key: string) => num((v as Json | null | undefined)?.[key]);
  const input = num(u.prompt_tokens);
  const output = num(u.completion_tokens);
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: detail(u.prompt_tokens_details, 'cached_tokens') },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: detail(u.completion_tokens_details, 'reasoning_tokens') },
    total_tokens: num(u.total_tokens) || input + output,
  };
}
