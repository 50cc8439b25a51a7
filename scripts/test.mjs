#!/usr/bin/env node
// `npm test`: everything, from a fresh clone. Installs dependencies when they are missing, then lint and format
// checks, the TypeScript build, and every vitest project (unit, integration, end to end) against real servers that
// the test set-up starts on free loopback ports. Extra arguments go to vitest (e.g. `npm test -- --project unit`).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const started = Date.now();

function step(title, command, args) {
  console.log(`\n[test] ${title}: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: process.env });
  if (result.status !== 0) {
    console.error(`[test] ${title} failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
}

if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) step('install', 'npm', ['ci', '--no-audit', '--no-fund']);
const bin = (name) => join(root, 'node_modules', '.bin', name);
step('lint', bin('eslint'), ['.']);
step('format', bin('prettier'), ['--check', '.', '--log-level', 'warn']);
step('build', bin('tsc'), ['-b']);
// The console's bundle (web/dist, served by the gateway in the browser tests), and its size budget.
step('web', process.execPath, [join(root, 'web', 'build.mjs')]);

const reportDir = mkdtempSync(join(tmpdir(), 'jetsaga-vitest-'));
const report = join(reportDir, 'report.json');
const vitest = spawnSync(
  bin('vitest'),
  ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: 'inherit',
    env: process.env,
  },
);
let summary = 'no report';
if (existsSync(report)) {
  const results = JSON.parse(readFileSync(report, 'utf8'));
  summary = `${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests + results.numTodoTests} skipped`;
}
rmSync(reportDir, { recursive: true, force: true });
console.log(`\n[test] done in ${Math.round((Date.now() - started) / 1000)} s`);
console.log(`vitest: ${summary}`);
process.exit(vitest.status ?? 1);
