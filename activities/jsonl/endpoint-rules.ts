import type { BatchEndpoint } from '../../common/batch';
import type { BodyProblem } from './input-shapes';
import { embeddingInputs, invalidType, isObject, moderationInput, problem } from './input-shapes';

export type { BodyProblem } from './input-shapes';

/**
 * What each batch endpoint asks of a line's `body`, in OpenAI's words and codes where OpenAI's batch
 * validation has them ("Model parameter is required.", "Messages parameter is required.", "Chat Completions:
 * Streaming is not supported in the Batch API.", all `invalid_request` or `streaming_unsupported` with
 * `param` `body.<field>`), and in the same pattern where it does not. The shapes are those of the `openai`
 * npm package's params types (`EmbeddingCreateParams.input`, `ResponseCreateParams`,
 * `ModerationCreateParams`).
 */

/**
 * The model a moderations line without one runs on: `model` is optional in `ModerationCreateParams`, and
 * OpenAI then uses `omni-moderation-latest` (its default since the `text-moderation-*` models were retired:
 * platform.openai.com/docs/deprecations, "2025-04-28: text-moderation"; its batch guide's moderations
 * example names it too). Such a line is routed as this model, sent without one (the upstream applies its
 * own default), and the Batch object's `model` is this name when such a line is the first.
 */
export const DEFAULT_MODERATION_MODEL = 'omni-moderation-latest';

/** What passed: the model the line runs on, whether the line named it, and its embedding inputs. */
export interface BodyFacts {
  model: string;
  modelNamed: boolean;
  /** Embedding inputs of the line (`/v1/embeddings` only; 0 elsewhere). */
  inputs: number;
}

interface EndpointRule {
  /** The API's name, as OpenAI's messages start ("Chat Completions: …"). */
  name: string;
  /** False for moderations only, where OpenAI defaults the model. */
  modelRequired: boolean;
  /** The field that holds what the request is about, required. */
  content: 'messages' | 'prompt' | 'input';
  /** Checks the content's shape: the number of embedding inputs it holds, or a problem. */
  checkContent?: (value: unknown) => number | BodyProblem;
  /** Fields that must not be `true` in a batch, with the message that says so. */
  refused?: Record<string, string>;
}

const RULES: Record<BatchEndpoint, EndpointRule> = {
  '/v1/chat/completions': { name: 'Chat Completions', modelRequired: true, content: 'messages' },
  '/v1/completions': { name: 'Completions', modelRequired: true, content: 'prompt' },
  '/v1/embeddings': { name: 'Embeddings', modelRequired: true, content: 'input', checkContent: embeddingInputs },
  '/v1/responses': {
    name: 'Responses',
    modelRequired: true,
    content: 'input',
    checkContent: (input) =>
      typeof input === 'string' || (Array.isArray(input) && input.every(isObject))
        ? 0
        : invalidType('input', 'a string or an array of input items', input),
    // A background response is polled for later, which the Batch API does itself.
    refused: { background: 'Responses: Background mode is not supported in the Batch API.' },
  },
  '/v1/moderations': { name: 'Moderations', modelRequired: false, content: 'input', checkContent: moderationInput },
};

/** Checks a line's body against its endpoint's rules: the facts the batch needs, or the first problem. */
export function checkBody(endpoint: BatchEndpoint, body: Record<string, unknown>): BodyFacts | BodyProblem {
  const rule = RULES[endpoint];
  const { model } = body;
  const modelNamed = model !== undefined && model !== null;
  if (modelNamed || rule.modelRequired) {
    if (typeof model !== 'string' || model.length === 0) {
      return problem('invalid_request', 'Model parameter is required.', 'model');
    }
  }
  if (body.stream === true) {
    return problem('streaming_unsupported', `${rule.name}: Streaming is not supported in the Batch API.`, 'stream');
  }
  for (const [field, message] of Object.entries(rule.refused ?? {})) {
    if (body[field] === true) return problem('invalid_request', message, field);
  }
  const content = body[rule.content];
  if (content === undefined || content === null) {
    const name = rule.content[0].toUpperCase() + rule.content.slice(1);
    return problem('invalid_request', `${name} parameter is required.`, rule.content);
  }
  const inputs = rule.checkContent?.(content) ?? 0;
  if (typeof inputs !== 'number') return inputs;
  return {
    model: modelNamed ? model : DEFAULT_MODERATION_MODEL,
    modelNamed,
    inputs: endpoint === '/v1/embeddings' ? inputs : 0,
  };
}

/** Whether {@link checkBody} found a problem. */
export function isProblem(result: BodyFacts | BodyProblem): result is BodyProblem {
  return 'code' in result;
}
