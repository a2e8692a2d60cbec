/**
 * OpenAI's request rules as far as the embedded model server needs them: reading a JSON body, checking the
 * parameters of chat completions, completions and embeddings, and writing errors in OpenAI's envelope
 * `{error: {message, type, param, code}}`.
 */

const MAX_BODY_BYTES = 32 * 1024 * 1024;
const MAX_STOP_SEQUENCES = 4;
const MAX_EMBEDDING_INPUTS = 2048;

/** A request the server refuses; becomes `{error: {message, type, param, code}}` with its status. */
export class HttpError extends Error {
  constructor(status, message, { param = null, code = null, type = 'invalid_request_error' } = {}) {
    super(message);
    this.status = status;
    this.param = param;
    this.code = code;
    this.type = type;
  }
}

export const badRequest = (message, param = null, code = null) => new HttpError(400, message, { param, code });

function unsupported(param, message) {
  return badRequest(message ?? `${param} is not supported by this server.`, param, 'unsupported_parameter');
}

export function send(res, status, body, headers = {}) {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-request-id': res.requestId,
    ...headers,
  });
  res.end(text);
}

export function sendError(res, err) {
  if (!(err instanceof HttpError)) {
    console.error(`Embedded model: request ${res.requestId} failed:`, err);
    err = new HttpError(500, 'The model server had an error while processing your request.', {
      type: 'server_error',
    });
  }
  send(
    res,
    err.status,
    { error: { message: err.message, type: err.type, param: err.param, code: err.code } },
    err.headers,
  );
}

export async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `The request body is larger than ${MAX_BODY_BYTES} bytes.`);
    chunks.push(chunk);
  }
  let body;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw badRequest(
      'We could not parse the JSON body of your request. The body must be a JSON object (send it with content-type application/json).',
    );
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('The request body must be a JSON object.');
  }
  return body;
}

export const isSet = (value) => value !== undefined && value !== null;

export function requireModel(body) {
  if (typeof body.model !== 'string' || body.model === '') {
    throw badRequest('You must provide a model parameter.', 'model', 'missing_required_parameter');
  }
}

function numberParam(body, name, min, max) {
  const value = body[name];
  if (!isSet(value)) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw badRequest(`${name} must be a number from ${min} to ${max}.`, name, 'invalid_value');
  }
  return value;
}

function integerParam(body, name, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER) {
  const value = body[name];
  if (!isSet(value)) return undefined;
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = min > Number.MIN_SAFE_INTEGER ? ` of at least ${min}` : '';
    throw badRequest(`${name} must be an integer${range}.`, name, 'invalid_value');
  }
  return value;
}

/** The sampling options both text endpoints take, as node-llama-cpp names them. */
export function generationOptions(body) {
  requireModel(body);
  if (body.stream === true) {
    throw badRequest(
      'Streaming is not supported by this server: leave stream unset or false.',
      'stream',
      'unsupported_value',
    );
  }
  if (isSet(body.n) && body.n !== 1) {
    throw badRequest('This server generates one choice per request: n must be 1.', 'n', 'unsupported_value');
  }
  const maxTokens = integerParam(body, 'max_completion_tokens', 1) ?? integerParam(body, 'max_tokens', 1);
  let stop = body.stop;
  if (!isSet(stop)) stop = [];
  else if (typeof stop === 'string') stop = [stop];
  if (!Array.isArray(stop) || stop.length > MAX_STOP_SEQUENCES || !stop.every((s) => typeof s === 'string')) {
    throw badRequest(
      `stop must be a string or an array of up to ${MAX_STOP_SEQUENCES} strings.`,
      'stop',
      'invalid_value',
    );
  }
  const frequencyPenalty = numberParam(body, 'frequency_penalty', -2, 2);
  const presencePenalty = numberParam(body, 'presence_penalty', -2, 2);
  return {
    maxTokens,
    temperature: numberParam(body, 'temperature', 0, 2) ?? 1,
    topP: numberParam(body, 'top_p', 0, 1),
    // OpenAI takes any 64-bit seed; llama.cpp's is 32 bits.
    seed: isSet(body.seed) ? Math.abs(integerParam(body, 'seed')) % 2 ** 32 : undefined,
    customStopTriggers: stop.filter((s) => s !== ''),
    // Unset, node-llama-cpp's mild repeat penalty (1.1 over the last 64 tokens) applies: a 135M model loops without it.
    repeatPenalty:
      frequencyPenalty || presencePenalty
        ? { frequencyPenalty: frequencyPenalty || undefined, presencePenalty: presencePenalty || undefined }
        : undefined,
  };
}

/** OpenAI's message list as node-llama-cpp's chat history, ending with the empty answer to generate. */
export function chatHistory(body) {
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw badRequest(
      'messages must be a non-empty array.',
      'messages',
      isSet(body.messages) ? 'invalid_value' : 'missing_required_parameter',
    );
  }
  for (const name of ['tools', 'functions', 'logit_bias', 'audio', 'prediction']) {
    if (isSet(body[name])) throw unsupported(name);
  }
  if (body.logprobs === true || isSet(body.top_logprobs)) throw unsupported('logprobs');
  if (isSet(body.response_format) && body.response_format.type !== 'text') throw unsupported('response_format');
  const history = body.messages.map((message, i) => {
    const param = `messages[${i}]`;
    if (message === null || typeof message !== 'object') throw badRequest(`${param} must be an object.`, param);
    const text = messageText(message.content, `${param}.content`);
    switch (message.role) {
      case 'system':
      case 'developer':
        return { type: 'system', text };
      case 'user':
        return { type: 'user', text };
      case 'assistant':
        if (isSet(message.tool_calls) || isSet(message.function_call)) throw unsupported(`${param}.tool_calls`);
        return { type: 'model', response: [text] };
      default:
        throw badRequest(
          `${param}.role must be system, developer, user or assistant; tool messages are not supported by this server.`,
          `${param}.role`,
          'invalid_value',
        );
    }
  });
  return [...history, { type: 'model', response: [] }];
}

function messageText(content, param) {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (Array.isArray(content)) {
    return content
      .map((part, i) => {
        if (part && part.type === 'text' && typeof part.text === 'string') return part.text;
        throw unsupported(`${param}[${i}]`, `${param}[${i}]: only text content parts are supported by this server.`);
      })
      .join('\n');
  }
  throw badRequest(`${param} must be a string or an array of text parts.`, param, 'invalid_value');
}

export function completionPrompt(body) {
  let prompt = body.prompt;
  if (Array.isArray(prompt) && prompt.length === 1) prompt = prompt[0];
  if (typeof prompt !== 'string') {
    throw badRequest(
      'prompt must be a string (or an array of one string): this server completes one prompt per request.',
      'prompt',
      isSet(body.prompt) ? 'invalid_value' : 'missing_required_parameter',
    );
  }
  if (isSet(body.best_of) && body.best_of !== 1) throw unsupported('best_of');
  if (isSet(body.logprobs) && body.logprobs !== 0) throw unsupported('logprobs');
  if (isSet(body.suffix) && body.suffix !== '') throw unsupported('suffix');
  if (isSet(body.logit_bias)) throw unsupported('logit_bias');
  return prompt;
}

export function contextLengthExceeded(param, tokens, contextSize, what) {
  return badRequest(
    `This model's maximum context length is ${contextSize} tokens. However, your ${what} resulted in ${tokens} tokens. Please reduce the length of the ${what}.`,
    param,
    'context_length_exceeded',
  );
}

/**
 * `input` as a list of strings or token-id lists, one per embedding, and how to encode the vectors. Throws a
 * 400 {@link HttpError} for anything else, or for `dimensions` other than the model's.
 */
export function embeddingRequest(body, { dimensions, vocabularySize }) {
  requireModel(body);
  const input = body.input;
  const isTokens = (value) =>
    Array.isArray(value) && value.length > 0 && value.every((t) => Number.isInteger(t) && t >= 0 && t < vocabularySize);
  let inputs;
  if (typeof input === 'string' || isTokens(input)) inputs = [input];
  else if (Array.isArray(input) && input.length > 0 && input.every((i) => typeof i === 'string' || isTokens(i))) {
    inputs = input;
  }
  if (!inputs || inputs.some((i) => i.length === 0)) {
    throw badRequest(
      'input must be a non-empty string, an array of non-empty strings, or token ids (an array of integers, or an array of them).',
      'input',
      isSet(input) ? 'invalid_value' : 'missing_required_parameter',
    );
  }
  if (inputs.length > MAX_EMBEDDING_INPUTS) {
    throw badRequest(`input may hold at most ${MAX_EMBEDDING_INPUTS} items.`, 'input', 'invalid_value');
  }
  const encodingFormat = body.encoding_format ?? 'float';
  if (encodingFormat !== 'float' && encodingFormat !== 'base64') {
    throw badRequest('encoding_format must be float or base64.', 'encoding_format', 'invalid_value');
  }
  if (isSet(body.dimensions) && body.dimensions !== dimensions) {
    throw badRequest(
      `This model's embeddings have ${dimensions} dimensions; other values are not supported.`,
      'dimensions',
      'unsupported_value',
    );
  }
  return { inputs, encodingFormat };
}
