#!/usr/bin/env node
// Builds the console (vite build -> web/dist) when its sources are newer than the last build, then checks the bundle
// budget: the JavaScript that index.html loads before anything else, gzipped, at most BUDGET_BYTES. Run by
// `npm run build` (so `npm start`), `npm test`'s set-up and the image build; `--force` builds anyway.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const BUDGET_BYTES = 200 * 1024;
const web = fileURLToPath(new URL('.', import.meta.url));
const dist = join(web, 'dist');
const stamp = join(dist, 'budget.json');

function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

/** The chunks index.html loads at once: its entry and the entry's static imports, followed through the manifest. */
export function initialChunks(manifest) {
  const entry = Object.values(manifest).find((chunk) => chunk.isEntry);
  if (!entry) throw new Error('the build manifest has no entry chunk');
  const seen = new Set();
  const visit = (chunk) => {
    if (seen.has(chunk.file)) return;
    seen.add(chunk.file);
    for (const key of chunk.imports ?? []) visit(manifest[key]);
  };
  visit(entry);
  return [...seen].filter((file) => file.endsWith('.js'));
}

export function measure() {
  const manifest = JSON.parse(readFileSync(join(dist, '.vite', 'manifest.json'), 'utf8'));
  const files = initialChunks(manifest);
  const gzipped = files.reduce((sum, file) => sum + gzipSync(readFileSync(join(dist, file)), { level: 9 }).length, 0);
  const lazy = Object.values(manifest)
    .filter((chunk) => chunk.file.endsWith('.js') && !files.includes(chunk.file))
    .reduce((sum, chunk) => sum + gzipSync(readFileSync(join(dist, chunk.file)), { level: 9 }).length, 0);
  return { initialJsGzipBytes: gzipped, lazyJsGzipBytes: lazy, initialFiles: files, budgetBytes: BUDGET_BYTES };
}

const sources = ['src', 'public', 'index.html', 'vite.config.ts', 'package.json', 'build.mjs'].map((name) => join(web, name));
const stale = process.argv.includes('--force') || !existsSync(stamp) || Math.max(...sources.map(newest)) > statSync(stamp).mtimeMs;
if (stale) {
  const started = Date.now();
  const vite = join(web, '..', 'node_modules', '.bin', 'vite');
  const result = spawnSync(vite, ['build', '--logLevel', 'warn'], { cwd: web, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  const figures = measure();
  writeFileSync(stamp, JSON.stringify(figures, null, 2) + '\n');
  console.log(
    `[web] built web/dist in ${((Date.now() - started) / 1000).toFixed(1)} s: initial JavaScript ${(figures.initialJsGzipBytes / 1024).toFixed(1)} kB gzipped (budget ${BUDGET_BYTES / 1024} kB), lazy chunks ${(figures.lazyJsGzipBytes / 1024).toFixed(1)} kB`,
  );
}
const figures = JSON.parse(readFileSync(stamp, 'utf8'));
if (figures.initialJsGzipBytes > BUDGET_BYTES) {
  console.error(
    `[web] the console's initial JavaScript is ${(figures.initialJsGzipBytes / 1024).toFixed(1)} kB gzipped, over its ${BUDGET_BYTES / 1024} kB budget (ADR 0053): lazy-load what the first page does not need`,
  );
  process.exit(1);
}
