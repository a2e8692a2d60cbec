/**
 * `npm run build` step: the dashboard's static assets. Bundles `api/dashboard/app/main.ts` (and what it
 * imports of `common/`) into one script with esbuild, and copies the page and its stylesheet:
 * `index.html`, `assets/app.js`, `assets/style.css` under the output folder (`dist/api/dashboard`).
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { build } from 'esbuild';

/** The dashboard's sources: beside this file when it runs from source, in the repository's api/ from dist/. */
const SOURCE_DIR = existsSync(path.join(__dirname, 'dashboard', 'app'))
  ? path.join(__dirname, 'dashboard')
  : path.join(__dirname, '..', '..', 'api', 'dashboard');
/** Where the compiled API looks for the built dashboard (dist/api/dashboard). */
export const BUILT_DASHBOARD_DIR = path.join(__dirname, 'dashboard');

/** Builds the dashboard into `outDir`; resolves to `outDir`. */
export async function buildDashboard(outDir: string, sourceDir = SOURCE_DIR): Promise<string> {
  await mkdir(path.join(outDir, 'assets'), { recursive: true });
  await build({
    entryPoints: [path.join(sourceDir, 'app', 'main.ts')],
    outfile: path.join(outDir, 'assets', 'app.js'),
    bundle: true,
    format: 'iife',
    target: ['es2020'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
  });
  await copyFile(path.join(sourceDir, 'index.html'), path.join(outDir, 'index.html'));
  await copyFile(path.join(sourceDir, 'style.css'), path.join(outDir, 'assets', 'style.css'));
  return outDir;
}

if (require.main === module) {
  buildDashboard(BUILT_DASHBOARD_DIR).then(
    (dir) => console.log(`Dashboard written to ${path.relative(process.cwd(), dir)}`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
