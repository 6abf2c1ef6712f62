// Builds the dashboard: a strict type check (tsc --noEmit), then one bundle (esbuild) of
// src/main.ts with lightweight-charts inside it, the service worker src/sw.ts, and index.html,
// style.css and favicon.svg beside them.
// Everything the page loads comes from its own origin: no CDN, it works offline.
//   node build.mjs --out DIR     (CMake's `web` target; npm run build writes to ./dist)
import {spawnSync} from 'node:child_process';
import {copyFileSync, existsSync, mkdirSync, rmSync} from 'node:fs';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const at = process.argv.indexOf('--out');
const out = resolve(at > 0 && process.argv[at + 1] ? process.argv[at + 1] : join(here, 'dist'));

if (!existsSync(join(here, 'node_modules', '.package-lock.json'))) {
  console.error(
      `build.mjs: ${join(here, 'node_modules')} is missing: run scripts/install-deps.sh ` +
      '(npm ci in web/)');
  process.exit(1);
}

const tsc = spawnSync(
    process.execPath,
    [join(here, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', here],
    {stdio: 'inherit'});
if (tsc.status !== 0) {
  console.error('build.mjs: the type check failed (tsc --noEmit -p web)');
  process.exit(1);
}

const esbuild = await import('esbuild');
// A fresh directory: a file left from an older build would still be served.
rmSync(out, {recursive: true, force: true});
mkdirSync(out, {recursive: true});
await esbuild.build({
  entryPoints: [join(here, 'src', 'main.ts')],
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: ['es2022'],
  outfile: join(out, 'app.js'),
  logLevel: 'warning',
});
// The service worker that shows backtests' HTML reports (src/sw.ts): a classic script of its own
// at the root, so that its scope is the whole page.
await esbuild.build({
  entryPoints: [join(here, 'src', 'sw.ts')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2022'],
  outfile: join(out, 'sw.js'),
  logLevel: 'warning',
});
for (const file of ['index.html', 'style.css', 'favicon.svg']) {
  copyFileSync(join(here, file), join(out, file));
}
console.log(`build.mjs: dashboard in ${out}`);
