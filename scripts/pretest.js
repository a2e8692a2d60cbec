#!/usr/bin/env node
'use strict';
/**
 * `npm test`'s first step (npm runs `pretest` before `test`): installs what the suites need on a fresh
 * clone — the npm packages, the Temporal CLI, fake-gcs-server, the Python `openai` client's venv and the
 * embedded model's weights (once, into `.cache/models`) and Chromium for the browser test — or
 * says in one line per tool what it could not install and why.
 */
const { ensureModelWeights } = require('./model-weights');
const setup = require('./setup');

const steps = [
  ['npm packages', () => setup.ensureNpmPackages()],
  ['the Temporal CLI', () => setup.ensureTemporalCli()],
  ['fake-gcs-server', () => setup.ensureFakeGcs()],
  ['the Python openai client', () => setup.ensurePythonTestVenv()],
  ["the embedded model's weights", () => ensureModelWeights()],
  ['Chromium (the dashboard browser test)', () => setup.ensureChromium()],
];
let failed = false;
for (const [what, step] of steps) {
  try {
    step();
  } catch (err) {
    failed = true;
    console.error(`npm test needs ${what}: ${err && err.message ? err.message : err}`);
    if (what === 'npm packages') break;
  }
}
process.exit(failed ? 1 : 0);
