import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const VENV = path.join(ROOT, '.venv-test');
const REQUIREMENTS = path.join(ROOT, 'test', 'contract', 'python', 'requirements.txt');

/**
 * A virtual environment with the packages of test/contract/python/requirements.txt (the official Python
 * `openai` client and pytest), created on first use and reused while the requirements are unchanged.
 * Returns its python.
 */
export function ensurePythonVenv(): string {
  const python = path.join(VENV, 'bin', 'python');
  const stamp = path.join(VENV, 'requirements.installed');
  const wanted = readFileSync(REQUIREMENTS, 'utf8');
  if (existsSync(python) && existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted) return python;
  execFileSync('python3', ['-m', 'venv', '--clear', VENV], { stdio: 'inherit' });
  execFileSync(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', REQUIREMENTS], {
    stdio: 'inherit',
  });
  writeFileSync(stamp, wanted);
  return python;
}
