#!/usr/bin/env node
/**
 * The embedded model server behind `npm run model` (and `npm start` when no upstream is configured): a real
 * small language model (SmolLM2-135M-Instruct, CPU only) behind OpenAI's `/v1/models`, `/v1/chat/completions`,
 * `/v1/completions` and `/v1/embeddings`, on 127.0.0.1 only. Its own process because node-llama-cpp is
 * ESM-only with top-level await, and so that decoding stays off the worker's event loop.
 *
 * Options (flag or environment): `--port` / EMBEDDED_MODEL_PORT (8090; 0 picks a free one),
 * `--weights` / EMBEDDED_MODEL_WEIGHTS (default: fetched into EMBEDDED_MODEL_CACHE_DIR by
 * scripts/model-weights.js), `--slots` / EMBEDDED_MODEL_SLOTS (2 requests decoded at once, the rest wait in
 * order), `--threads` / EMBEDDED_MODEL_THREADS (2), `--context-size` / EMBEDDED_MODEL_CONTEXT_SIZE (2048
 * tokens per request, prompt and completion together). Prints `readyLine()` of model/contract.js on stdout
 * when it listens, and nothing else there; SIGTERM or SIGINT stops it with exit code 0.
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { DEFAULT_PORT, MODEL_ID, readyLine } from './contract.js';
import { loadEngine, newId } from './engine.mjs';
import { HttpError, readJson, send, sendError } from './openai-requests.mjs';
import { AbortedError } from './slot-pool.mjs';

const require = createRequire(import.meta.url);
const { ensureModelWeights, ModelWeightsError } = require('../scripts/model-weights.js');

const HOST = '127.0.0.1';

function fail(message) {
  console.error(message);
  process.exit(1);
}

function readOptions() {
  let args;
  try {
    ({ values: args } = parseArgs({
      options: {
        port: { type: 'string' },
        weights: { type: 'string' },
        slots: { type: 'string' },
        threads: { type: 'string' },
        'context-size': { type: 'string' },
      },
    }));
  } catch (err) {
    fail(
      `${err.message}. Usage: node model/server.mjs [--port N] [--weights FILE] [--slots N] [--threads N] [--context-size N]`,
    );
  }
  const integer = (flag, variable, fallback, min, max) => {
    const raw = args[flag] ?? process.env[variable] ?? String(fallback);
    const value = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
      fail(
        `Invalid ${args[flag] !== undefined ? `--${flag}` : variable} "${raw}": expected an integer from ${min} to ${max}.`,
      );
    }
    return value;
  };
  return {
    port: integer('port', 'EMBEDDED_MODEL_PORT', DEFAULT_PORT, 0, 65535),
    slots: integer('slots', 'EMBEDDED_MODEL_SLOTS', 2, 1, 64),
    threads: integer('threads', 'EMBEDDED_MODEL_THREADS', 2, 1, 256),
    contextSize: integer('context-size', 'EMBEDDED_MODEL_CONTEXT_SIZE', 2048, 64, 131072),
    weights: args.weights ?? process.env.EMBEDDED_MODEL_WEIGHTS,
  };
}

// ---------------------------------------------------------------------------------------------------------
// The model.

const options = readOptions();
let weights = options.weights;
if (!weights) {
  try {
    weights = ensureModelWeights();
  } catch (err) {
    fail(
      err instanceof ModelWeightsError ? err.message : `Could not fetch the embedded model's weights: ${err.message}`,
    );
  }
}

let engine;
try {
  engine = await loadEngine(options, weights);
} catch (err) {
  fail(err.message);
}
const { modelObject, createChatCompletion, createCompletion, createEmbedding } = engine;

// ---------------------------------------------------------------------------------------------------------
// HTTP.

/** Exact paths and their handlers; a handler returns the JSON body of a 200. */
const routes = new Map([
  ['/v1/models', { GET: () => ({ object: 'list', data: [modelObject()] }) }],
  ['/v1/chat/completions', { POST: createChatCompletion }],
  ['/v1/completions', { POST: createCompletion }],
  ['/v1/embeddings', { POST: createEmbedding }],
]);

function retrieveModel(encodedId) {
  let id = encodedId;
  try {
    id = decodeURIComponent(encodedId);
  } catch {
    // Not valid percent-encoding: no model has that id either.
  }
  if (id !== MODEL_ID) {
    throw new HttpError(404, `The model '${id}' does not exist`, { param: 'model', code: 'model_not_found' });
  }
  return modelObject();
}

function route(method, pathname) {
  const handlers =
    routes.get(pathname) ??
    (pathname.startsWith('/v1/models/') ? { GET: () => retrieveModel(pathname.slice('/v1/models/'.length)) } : null);
  if (!handlers) {
    throw new HttpError(404, `Invalid URL (${method} ${pathname})`);
  }
  const handler = handlers[method];
  if (!handler) {
    const error = new HttpError(
      405,
      `Method ${method} is not allowed on ${pathname}; use ${Object.keys(handlers).join(', ')}.`,
    );
    error.headers = { allow: Object.keys(handlers).join(', ') };
    throw error;
  }
  return handler;
}

const inFlight = new Set();

async function handle(req, res) {
  res.requestId = newId('req_');
  // A client that hangs up frees its place in the queue, or its slot mid-generation.
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  try {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    const handler = route(req.method ?? 'GET', pathname);
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    send(res, 200, await handler(body, controller.signal));
  } catch (err) {
    if (err instanceof AbortedError || controller.signal.aborted) return;
    sendError(res, err);
  }
}

const server = http.createServer((req, res) => {
  const handling = handle(req, res).catch((err) => console.error('Embedded model: unexpected error:', err));
  inFlight.add(handling);
  void handling.finally(() => inFlight.delete(handling));
});

server.once('error', async (err) => {
  await engine.dispose().catch(() => {});
  fail(
    err.code === 'EADDRINUSE'
      ? `Could not start the embedded model: ${HOST}:${options.port} is in use; set EMBEDDED_MODEL_PORT to a free port.`
      : `Could not start the embedded model: ${err.message}`,
  );
});

server.listen(options.port, HOST, () => {
  console.log(readyLine(`http://${HOST}:${server.address().port}/v1`));
});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  // If disposing hangs, leave anyway: nothing may listen after a stop.
  setTimeout(() => process.exit(1), 10_000).unref();
  const closed = new Promise((resolve) => server.close(resolve));
  // Closing the connections aborts what they were waiting for (see handle()), so the model is idle when disposed.
  server.closeAllConnections();
  await Promise.allSettled([closed, ...inFlight]);
  await engine.dispose();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// `npm run model` runs us under `sh -c`, which dies on SIGTERM without passing it on, and a launcher killed
// with SIGKILL cannot stop us either: when our parent is gone, nobody else would ever stop this server.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void stop();
}, 1000).unref();
