/**
 * A `/v1/responses` request as a chat completion, for an upstream that has no `/v1/responses` (llama.cpp
 * and Ollama builds without it, the embedded model): the route option `"responses": "chat"`, or
 * `UPSTREAM_RESPONSES_VIA_CHAT` for the default upstream. The answer goes back the other way in
 * `response-from-chat.ts`. Shapes as the `openai` npm package types them (`ResponseCreateParams`,
 * `ChatCompletionCreateParams`).
 *
 * Translated: `model`; `instructions` (a system message first); `input` as a string (one user message) or
 * as items: messages of every role (`developer` becomes `system`) with `input_text`, `output_text`,
 * `refusal` and `input_image` (by URL) parts, `function_call` items (the assistant's `tool_calls`) and
 * `function_call_output` items (`tool` messages); `max_output_tokens` (as `max_tokens`), `temperature`,
 * `top_p`, function `tools`, `tool_choice`, `parallel_tool_calls`, `text.format` (as `response_format`).
 * Reasoning items in the input are dropped: chat completions have no place for them.
 * Ignored, as they change nothing in the answer: `store`, `metadata` (echoed back), `user`,
 * `safety_identifier`, `service_tier`, `truncation`, `include`, `reasoning`, the prompt cache options,
 * `text.verbosity`, and `stream`/`background` when false.
 * Refused (the line is an error line `untranslatable_request`, never sent): `previous_response_id`,
 * `conversation` and `prompt` (state kept by OpenAI), `top_logprobs`, `context_management`, tools other
 * than functions (web search, file search, MCP, …) and a `tool_choice` naming one, input items of other
 * types (built-in tool calls, item references), `input_file` and `input_audio` parts, images by file id.
 * Any other field goes on as it is (server-specific sampling options such as `top_k`).
 */

/** A part of the request that has no chat-completions equivalent; `param` names it. */
export class UntranslatableError extends Error {
  constructor(
    message: string,
    readonly param: string,
  ) {
    super(message);
    this.name = 'UntranslatableError';
  }
}

type Json = Record<string, unknown>;

const IGNORED = new Set([
  'store',
  'metadata',
  'user',
  'safety_identifier',
  'service_tier',
  'truncation',
  'include',
  'reasoning',
  'prompt_cache_key',
  'prompt_cache_retention',
  'prompt_cache_options',
  'stream',
  'stream_options',
  'background',
]);
const REFUSED = new Set(['previous_response_id', 'conversation', 'prompt', 'top_logprobs', 'context_management']);
/** Fields translated below, by name. */
const TRANSLATED = new Set(['input', 'instructions', 'max_output_tokens', 'tools', 'tool_choice', 'text']);

/**
 * The chat-completions body of a Responses API body. Throws {@link UntranslatableError} for what has no
 * equivalent (see the module comment).
 */
export function responsesToChat(body: Json): Json {
  const chat: Json = {};
  for (const [key, value] of Object.entries(body)) {
    if (value === undefined || value === null || IGNORED.has(key) || TRANSLATED.has(key)) continue;
    if (REFUSED.has(key)) throw new UntranslatableError(`'${key}' has no chat-completions equivalent`, key);
    chat[key] = value;
  }
  chat.messages = messagesOf(body);
  if (typeof body.max_output_tokens === 'number') chat.max_tokens = body.max_output_tokens;
  if (Array.isArray(body.tools) && body.tools.length > 0) chat.tools = body.tools.map(toolOf);
  if (body.tool_choice !== undefined && body.tool_choice !== null) chat.tool_choice = toolChoiceOf(body.tool_choice);
  const format = responseFormatOf(body.text);
  if (format !== null) chat.response_format = format;
  return chat;
}

function messagesOf(body: Json): Json[] {
  const messages: Json[] = [];
  if (typeof body.instructions === 'string' && body.instructions.length > 0) {
    messages.push({ role: 'system', content: body.instructions });
  }
  if (typeof body.input === 'string') {
    messages.push({ role: 'user', content: body.input });
  } else if (Array.isArray(body.input)) {
    body.input.forEach((item: unknown, i) => addItem(messages, asObject(item, `input[${i}]`), `input[${i}]`));
  } else {
    throw new UntranslatableError("'input' is neither a string nor a list of items", 'input');
  }
  return messages;
}

/** Adds one input item to the chat messages. */
function addItem(messages: Json[], item: Json, param: string): void {
  const type = item.type ?? 'message';
  if (type === 'message') {
    const role = item.role === 'developer' ? 'system' : item.role;
    if (role !== 'user' && role !== 'assistant' && role !== 'system') {
      throw new UntranslatableError(`a message with role '${String(item.role)}'`, `${param}.role`);
    }
    messages.push({ role, content: contentOf(item.content, `${param}.content`) });
  } else if (type === 'function_call') {
    const call = { id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } };
    // The calls of one turn are one assistant message, with its text if the turn had any.
    const last = messages[messages.length - 1];
    if (last?.role === 'assistant') last.tool_calls = [...((last.tool_calls as Json[] | undefined) ?? []), call];
    else messages.push({ role: 'assistant', content: null, tool_calls: [call] });
  } else if (type === 'function_call_output') {
    const output = typeof item.output === 'string' ? item.output : contentOf(item.output, `${param}.output`);
    messages.push({ role: 'tool', tool_call_id: item.call_id, content: output });
  } else if (type !== 'reasoning') {
    throw new UntranslatableError(`input items of type ${JSON.stringify(type)} are not translated`, `${param}.type`);
  }
}

/** A message's content: a string as it is, parts as chat parts (one text part as a string). */
function contentOf(content: unknown, param: string): string | Json[] {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw new UntranslatableError('content that is not a string or a list', param);
  const parts = content.map((p: unknown, j) => partOf(asObject(p, `${param}[${j}]`), `${param}[${j}]`));
  return parts.length === 1 && parts[0].type === 'text' ? (parts[0].text as string) : parts;
}

function partOf(part: Json, param: string): Json {
  switch (part.type) {
    case 'input_text':
    case 'output_text':
      return { type: 'text', text: part.text };
    case 'refusal':
      return { type: 'text', text: part.refusal };
    case 'input_image':
      if (typeof part.image_url !== 'string') throw new UntranslatableError('images by file id', `${param}.file_id`);
      return {
        type: 'image_url',
        image_url: { url: part.image_url, ...(part.detail && part.detail !== 'auto' ? { detail: part.detail } : {}) },
      };
    default:
      throw new UntranslatableError(`'${String(part.type)}' parts are not translated`, `${param}.type`);
  }
}

/** A function tool, `{type, name, description, parameters, strict}`, as chat's `{type, function: {…}}`. */
function toolOf(tool: unknown, i: number): Json {
  const t = asObject(tool, `tools[${i}]`);
  if (t.type !== 'function') {
    throw new UntranslatableError(`'${String(t.type)}' tools are not translated (only functions are)`, `tools[${i}]`);
  }
  const fn: Json = { name: t.name };
  for (const key of ['description', 'parameters', 'strict'])
    if (t[key] !== undefined && t[key] !== null) fn[key] = t[key];
  return { type: 'function', function: fn };
}

function toolChoiceOf(choice: unknown): unknown {
  if (typeof choice === 'string') return choice;
  const c = asObject(choice, 'tool_choice');
  if (c.type === 'function') return { type: 'function', function: { name: c.name } };
  throw new UntranslatableError(`a tool_choice of type '${String(c.type)}' is not translated`, 'tool_choice');
}

/** `text.format` as chat's `response_format`; null for plain text. */
function responseFormatOf(text: unknown): Json | null {
  const format = text !== null && typeof text === 'object' ? (text as Json).format : undefined;
  if (format === undefined || format === null) return null;
  const f = asObject(format, 'text.format');
  if (f.type === 'text') return null;
  if (f.type === 'json_object') return { type: 'json_object' };
  if (f.type !== 'json_schema') throw new UntranslatableError(`a text format '${String(f.type)}'`, 'text.format');
  const schema: Json = { name: f.name, schema: f.schema };
  if (f.description !== undefined) schema.description = f.description;
  if (f.strict !== undefined && f.strict !== null) schema.strict = f.strict;
  return { type: 'json_schema', json_schema: schema };
}

function asObject(value: unknown, param: string): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UntranslatableError('an item that is not an object', param);
  }
  return value as Json;
}
