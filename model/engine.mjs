/**
 * The embedded model itself: SmolLM2 loaded by node-llama-cpp (CPU only, prebuilt binaries, never a build),
 * and the three things it does — chat completions, completions, embeddings — as OpenAI's answer bodies.
 * `model/server.mjs` puts HTTP in front of it.
 */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { getLlama, LlamaChat, LlamaCompletion, LlamaLogLevel, resolveChatWrapper } from 'node-llama-cpp';
import { MODEL_ID } from './contract.js';
import {
  chatHistory,
  completionPrompt,
  contextLengthExceeded,
  embeddingRequest,
  generationOptions,
} from './openai-requests.mjs';
import { AbortedError, SlotPool } from './slot-pool.mjs';

const DEFAULT_MAX_TOKENS = 256;

export const newId = (prefix) => `${prefix}${randomBytes(12).toString('hex')}`;
const now = () => Math.floor(Date.now() / 1000);

/**
 * Loads the model from `weights` with `options.slots` sequences of `options.contextSize` tokens on
 * `options.threads` threads. Resolves to its operations and `dispose()`; rejects with one line when the
 * model cannot be loaded.
 */
export async function loadEngine(options, weights) {
  let llama;
  let model;
  let context;
  try {
    llama = await getLlama({
      gpu: false,
      build: 'never',
      logLevel: LlamaLogLevel.warn,
      logger: (level, message) => process.stderr.write(`llama.cpp ${level}: ${message.trimEnd()}\n`),
    });
    model = await llama.loadModel({ modelPath: weights });
    context = await model.createContext({
      sequences: options.slots,
      contextSize: Math.min(options.contextSize, model.trainContextSize),
      threads: options.threads,
    });
  } catch (err) {
    await llama?.dispose().catch(() => {});
    throw new Error(`Could not load the embedded model from ${weights}: ${err.message}`, { cause: err });
  }

  const contextSize = context.contextSize;
  const vocabularySize = model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? Infinity;
  const chatWrapper = resolveChatWrapper(model, { type: 'jinjaTemplate' });
  const sequences = new SlotPool(Array.from({ length: options.slots }, () => context.getSequence()));
  const embeddingSlot = new SlotPool(['embedding']);
  let embeddingContext;
  const modelCreated = Math.floor(statSync(weights).mtimeMs / 1000);

  async function withSequence(signal, generate) {
    const sequence = await sequences.acquire(signal);
    try {
      const before = sequence.tokenMeter.getState();
      const result = await generate(sequence);
      // The meter counts every token whose logits were computed as output: the prompt's last token plus each
      // generated token fed back, i.e. as many as were generated (including the end-of-generation token).
      return { ...result, completionTokens: sequence.tokenMeter.diff(before).usedOutputTokens };
    } finally {
      await sequence.clearHistory().catch((err) => console.error('Embedded model: could not clear a sequence:', err));
      sequences.release(sequence);
    }
  }

  function finishReason(stopReason) {
    if (stopReason === 'abort') throw new AbortedError();
    return stopReason === 'maxTokens' ? 'length' : 'stop';
  }

  /**
   * The completion budget: what was asked (or the default), within what the context leaves after the prompt.
   * Throws a 400 when the prompt leaves no room at all.
   */
  function budget(maxTokens, promptTokens, param) {
    if (promptTokens >= contextSize - 1) throw contextLengthExceeded(param, promptTokens, contextSize, param);
    return Math.min(maxTokens ?? DEFAULT_MAX_TOKENS, contextSize - promptTokens - 1);
  }

  function usage(promptTokens, completionTokens) {
    return {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };
  }

  async function createChatCompletion(body, signal) {
    const generation = generationOptions(body);
    const history = chatHistory(body);
    const promptTokens = chatWrapper
      .generateContextState({ chatHistory: history })
      .contextText.tokenize(model.tokenizer).length;
    const maxTokens = budget(generation.maxTokens, promptTokens, 'messages');
    const result = await withSequence(signal, async (contextSequence) => {
      const chat = new LlamaChat({ contextSequence, chatWrapper, autoDisposeSequence: false });
      try {
        return await chat.generateResponse(history, {
          ...generation,
          maxTokens,
          signal,
          stopOnAbortSignal: false,
        });
      } finally {
        chat.dispose({ disposeSequence: false });
      }
    });
    return {
      id: newId('chatcmpl-'),
      object: 'chat.completion',
      created: now(),
      model: MODEL_ID,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: result.response, refusal: null },
          logprobs: null,
          finish_reason: finishReason(result.metadata.stopReason),
        },
      ],
      usage: usage(promptTokens, result.completionTokens),
    };
  }

  async function createCompletion(body, signal) {
    const generation = generationOptions(body);
    const prompt = completionPrompt(body);
    const promptTokens = model.tokenize(prompt).length + (model.tokens.shouldPrependBosToken ? 1 : 0);
    const maxTokens = budget(generation.maxTokens, promptTokens, 'prompt');
    const result = await withSequence(signal, async (contextSequence) => {
      const completion = new LlamaCompletion({ contextSequence, autoDisposeSequence: false });
      try {
        return await completion.generateCompletionWithMeta(prompt, {
          ...generation,
          maxTokens,
          signal,
          stopOnAbortSignal: false,
        });
      } finally {
        completion.dispose({ disposeSequence: false });
      }
    });
    return {
      id: newId('cmpl-'),
      object: 'text_completion',
      created: now(),
      model: MODEL_ID,
      choices: [
        {
          index: 0,
          text: body.echo === true ? prompt + result.response : result.response,
          logprobs: null,
          finish_reason: finishReason(result.metadata.stopReason),
        },
      ],
      usage: usage(promptTokens, result.completionTokens),
    };
  }

  async function createEmbedding(body, signal) {
    const { inputs, encodingFormat } = embeddingRequest(body, {
      dimensions: model.embeddingVectorSize,
      vocabularySize,
    });
    await embeddingSlot.acquire(signal);
    try {
      // Created on first use: it costs memory that servers used only for text generation do not need.
      embeddingContext ??= await model.createEmbeddingContext({
        contextSize: contextSize,
        batchSize: contextSize,
        threads: options.threads,
      });
      const lengths = inputs.map((input, index) => {
        const tokens = embeddingContext.calculateInputLength(input);
        if (tokens >= contextSize) throw contextLengthExceeded(`input[${index}]`, tokens, contextSize, 'input');
        return tokens;
      });
      const data = [];
      for (const [index, input] of inputs.entries()) {
        if (signal.aborted) throw new AbortedError();
        const { vector } = await embeddingContext.getEmbeddingFor(input);
        // OpenAI's embeddings have length 1, so that a dot product is the cosine similarity.
        const norm = Math.hypot(...vector) || 1;
        const unit = Float32Array.from(vector, (x) => x / norm);
        const embedding = encodingFormat === 'base64' ? Buffer.from(unit.buffer).toString('base64') : Array.from(unit);
        data.push({ object: 'embedding', index, embedding });
      }
      const promptTokens = lengths.reduce((sum, n) => sum + n, 0);
      return {
        object: 'list',
        data,
        model: MODEL_ID,
        usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
      };
    } finally {
      embeddingSlot.release('embedding');
    }
  }

  const modelObject = () => ({ id: MODEL_ID, object: 'model', created: modelCreated, owned_by: 'HuggingFaceTB' });
  return {
    modelObject,
    createChatCompletion,
    createCompletion,
    createEmbedding,
    dispose: () => llama.dispose(),
  };
}
