/**
 * The fixture upstream's answers, in the shapes of OpenAI's five batchable endpoints (the types of the
 * `openai` npm package): an echo of the prompt for text, a deterministic small vector per embedding input,
 * nothing flagged for moderation. Tokens are words, so usage is predictable from the request.
 */

/** The POST endpoints OpenAI batches, all of which the fixture serves by default. */
export const FIXTURE_ENDPOINTS = [
  '/v1/chat/completions',
  '/v1/completions',
  '/v1/embeddings',
  '/v1/responses',
  '/v1/moderations',
] as const;

export type FixtureEndpoint = (typeof FIXTURE_ENDPOINTS)[number];

/** A status and a JSON body. */
export interface FixtureAnswer {
  status: number;
  body: unknown;
}

/** What an answer may depend on besides the request body. */
export interface AnswerContext {
  /** A number unique to this request, for ids. */
  n: number;
  /** Vector length when the request names no `dimensions`. */
  embeddingDimensions: number;
}

/** The words of a text, as the fixture's stand-in for tokens. */
export function countTokens(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

/** The answer to a request on one of {@link FIXTURE_ENDPOINTS}, or a 400 for a body it cannot serve. */
export function answer(endpoint: FixtureEndpoint, body: Record<string, unknown>, ctx: AnswerContext): FixtureAnswer {
  switch (endpoint) {
    case '/v1/chat/completions':
      return ok(chatAnswer(body, ctx.n));
    case '/v1/completions':
      return ok(completionAnswer(body, ctx.n));
    case '/v1/embeddings':
      return embeddingAnswer(body, ctx);
    case '/v1/responses':
      return responseAnswer(body, ctx.n);
    case '/v1/moderations':
      return moderationAnswer(body, ctx.n);
  }
}

/** OpenAI's error envelope. */
export function errorBody(message: string, type: string, code: string | null = null, param: string | null = null) {
  return { error: { message, type, param, code } };
}

function ok(body: unknown): FixtureAnswer {
  return { status: 200, body };
}

function invalid(message: string, param: string): FixtureAnswer {
  return { status: 400, body: errorBody(message, 'invalid_request_error', 'invalid_value', param) };
}

/** The echo stops after 200 characters: a completion is short next to its prompt. */
function echo(prompt: string): string {
  return `echo: ${prompt.slice(0, 200)}`;
}

function chatAnswer(body: Record<string, unknown>, n: number) {
  const messages = Array.isArray(body.messages) ? (body.messages as { content?: unknown }[]) : [];
  const prompt = messages.map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)));
  const content = echo(prompt[prompt.length - 1] ?? '');
  const promptTokens = countTokens(prompt.join(' '));
  const completionTokens = countTokens(content);
  return {
    id: `chatcmpl-fixture-${n}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: body.model,
    choices: [{ index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: 'stop' }],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    },
  };
}

function completionAnswer(body: Record<string, unknown>, n: number) {
  const prompt = typeof body.prompt === 'string' ? body.prompt : JSON.stringify(body.prompt ?? '');
  const text = echo(prompt);
  const promptTokens = countTokens(prompt);
  const completionTokens = countTokens(text);
  return {
    id: `cmpl-fixture-${n}`,
    object: 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model: body.model,
    choices: [{ index: 0, text, logprobs: null, finish_reason: 'stop' }],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    },
  };
}

/**
 * `input`: a string, strings, a token array or token arrays; one embedding per input. A vector depends only
 * on its input and length, and has unit length. `encoding_format: 'base64'` (the npm client's default) gets
 * little-endian float32s in base64, as OpenAI sends them.
 */
function embeddingAnswer(body: Record<string, unknown>, ctx: AnswerContext): FixtureAnswer {
  const inputs = embeddingInputs(body.input);
  if (inputs === null) {
    return invalid("'input' must be a non-empty string, array of strings, array of tokens or array of arrays", 'input');
  }
  const dimensions = body.dimensions ?? ctx.embeddingDimensions;
  if (typeof dimensions !== 'number' || !Number.isInteger(dimensions) || dimensions < 1) {
    return invalid("'dimensions' must be a positive integer", 'dimensions');
  }
  const base64 = body.encoding_format === 'base64';
  const tokens = inputs.reduce(
    (sum, input) => sum + (typeof input === 'string' ? countTokens(input) : input.length),
    0,
  );
  return ok({
    object: 'list',
    data: inputs.map((input, index) => {
      const vector = embed(typeof input === 'string' ? input : JSON.stringify(input), dimensions);
      return {
        object: 'embedding',
        index,
        embedding: base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector,
      };
    }),
    model: body.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
}

function embeddingInputs(input: unknown): (string | number[])[] | null {
  const isTokens = (x: unknown): x is number[] =>
    Array.isArray(x) && x.length > 0 && x.every((t) => typeof t === 'number' && Number.isInteger(t));
  if (typeof input === 'string') return input.length > 0 ? [input] : null;
  if (isTokens(input)) return [input];
  if (!Array.isArray(input) || input.length === 0) return null;
  if (input.every((x) => typeof x === 'string' && x.length > 0)) return input as string[];
  if (input.every(isTokens)) return input;
  return null;
}

/** A unit vector seeded by the FNV-1a hash of the text. */
function embed(text: string, dimensions: number): number[] {
  const random = mulberry32(fnv1a(text));
  // Rounded to float32 first, so the base64 and the float answers hold the same numbers.
  const raw = Array.from({ length: dimensions }, () => Math.fround(random() * 2 - 1));
  const norm = Math.sqrt(raw.reduce((sum, x) => sum + x * x, 0)) || 1;
  return raw.map((x) => Math.fround(x / norm));
}

/**
 * `input`: a string or input items (messages with string or `input_text` content, and other items whose
 * text counts as input). The output echoes the last user message's text; `instructions` count as input.
 */
function responseAnswer(body: Record<string, unknown>, n: number): FixtureAnswer {
  const texts = responseInputTexts(body.input);
  if (texts === null) return invalid("'input' must be a string or an array of input items", 'input');
  const instructions = typeof body.instructions === 'string' ? body.instructions : null;
  const userTexts = texts.filter((t) => t.role === 'user');
  const text = echo((userTexts[userTexts.length - 1] ?? texts[texts.length - 1])?.text ?? '');
  const inputTokens = countTokens([instructions ?? '', ...texts.map((t) => t.text)].join(' '));
  const outputTokens = countTokens(text);
  const createdAt = Math.floor(Date.now() / 1000);
  return ok({
    id: `resp_fixture_${n}`,
    object: 'response',
    created_at: createdAt,
    status: 'completed',
    completed_at: createdAt,
    background: false,
    error: null,
    incomplete_details: null,
    instructions,
    max_output_tokens: body.max_output_tokens ?? null,
    metadata: body.metadata ?? {},
    model: body.model,
    output: [
      {
        type: 'message',
        id: `msg_fixture_${n}`,
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text, annotations: [] }],
      },
    ],
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: body.text ?? { format: { type: 'text' } },
    tool_choice: body.tool_choice ?? 'auto',
    tools: body.tools ?? [],
    top_p: body.top_p ?? 1,
    truncation: body.truncation ?? 'disabled',
    usage: {
      input_tokens: inputTokens,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: outputTokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: inputTokens + outputTokens,
    },
  });
}

function responseInputTexts(input: unknown): { role: string | null; text: string }[] | null {
  if (typeof input === 'string') return [{ role: 'user', text: input }];
  if (!Array.isArray(input)) return null;
  return input.map((item: unknown) => {
    if (typeof item !== 'object' || item === null) return { role: null, text: String(item) };
    const { role, content } = item as { role?: unknown; content?: unknown };
    const text =
      typeof content === 'string'
        ? content
        : Array.isArray(content)
          ? content
              .map((part: unknown) => (part as { text?: unknown }).text)
              .filter((t): t is string => typeof t === 'string')
              .join(' ')
          : JSON.stringify(item);
    return { role: typeof role === 'string' ? role : null, text };
  });
}

const MODERATION_CATEGORIES = [
  'harassment',
  'harassment/threatening',
  'hate',
  'hate/threatening',
  'illicit',
  'illicit/violent',
  'self-harm',
  'self-harm/instructions',
  'self-harm/intent',
  'sexual',
  'sexual/minors',
  'violence',
  'violence/graphic',
] as const;

/** The categories omni-moderation also reads images for. */
const IMAGE_CATEGORIES = new Set<string>([
  'self-harm',
  'self-harm/instructions',
  'self-harm/intent',
  'sexual',
  'violence',
  'violence/graphic',
]);

/**
 * `input`: a string, strings (one result each) or one multimodal array of `text` / `image_url` parts (one
 * result for all of it). Nothing is flagged; scores are tiny and depend on the input only.
 */
function moderationAnswer(body: Record<string, unknown>, n: number): FixtureAnswer {
  const inputs = moderationInputs(body.input);
  if (inputs === null) {
    return invalid("'input' must be a string, an array of strings or an array of multimodal inputs", 'input');
  }
  return ok({
    id: `modr-fixture-${n}`,
    model: body.model ?? 'omni-moderation-latest',
    results: inputs.map(({ text, image }) => {
      const random = mulberry32(fnv1a(`${image ? 'image:' : ''}${text}`));
      const types = (category: string): string[] => [
        ...(text.length > 0 ? ['text'] : []),
        ...(image && IMAGE_CATEGORIES.has(category) ? ['image'] : []),
      ];
      return {
        flagged: false,
        categories: Object.fromEntries(MODERATION_CATEGORIES.map((c) => [c, false])),
        category_scores: Object.fromEntries(MODERATION_CATEGORIES.map((c) => [c, Math.round(random() * 1e6) / 1e9])),
        category_applied_input_types: Object.fromEntries(MODERATION_CATEGORIES.map((c) => [c, types(c)])),
      };
    }),
  });
}

function moderationInputs(input: unknown): { text: string; image: boolean }[] | null {
  if (typeof input === 'string') return [{ text: input, image: false }];
  if (!Array.isArray(input) || input.length === 0) return null;
  if (input.every((x) => typeof x === 'string')) return input.map((text: string) => ({ text, image: false }));
  const parts = input as { type?: unknown; text?: unknown }[];
  if (!parts.every((p) => typeof p === 'object' && p !== null && (p.type === 'text' || p.type === 'image_url'))) {
    return null;
  }
  return [
    {
      text: parts
        .map((p) => (p.type === 'text' && typeof p.text === 'string' ? p.text : ''))
        .filter(Boolean)
        .join(' '),
      image: parts.some((p) => p.type === 'image_url'),
    },
  ];
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** A small seeded PRNG, so injected faults, jitter and vectors are the same on every run. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
