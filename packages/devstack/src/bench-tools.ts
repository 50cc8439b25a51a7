import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cachedTool, go as goTool } from './go-build.js';
import { cacheDir, compareVersions, type Say } from './tools.js';

const run = promisify(execFile);

/** The load driver and the NATS command line the benchmark uses (bench/README.md says how they are built and cached). */
export const K6_VERSION = '1.8.1';
export const NATSCLI_VERSION = '0.4.0';
/** The Temporal CLI, whose development server runs the benchmark's Temporal peer (Temporal Server 1.29.1 inside). */
export const TEMPORAL_CLI_VERSION = '1.5.1';

async function reportedVersion(bin: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await run(bin, args, { timeout: 20_000 });
    return /v?(\d+\.\d+\.\d+)/.exec(stdout + stderr)?.[1];
  } catch {
    return undefined;
  }
}

function go(args: string[], cwd: string | undefined, env: NodeJS.ProcessEnv = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('go', args, { cwd, env: { ...process.env, CGO_ENABLED: '0', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.once('error', (error) => reject(new Error('Go is needed to build the benchmark tools (k6, natscli)', { cause: error })));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`go ${args.join(' ')} exited with ${code}:\n${stderr}`))));
  });
}

/**
 * `<cache>/tools/<name>-<version>/<bin>`, built once into a staging directory that is renamed into place, so an
 * interrupted or concurrent build never leaves half a binary behind.
 */
async function cached(name: string, version: string, bin: string, say: Say, expected: string, build: (staging: string) => Promise<void>) {
  const dir = join(cacheDir(), 'tools', `${name}-${version}`);
  const target = join(dir, bin);
  if (existsSync(target)) return target;
  await mkdir(dir, { recursive: true });
  const staging = await mkdtemp(join(dir, '.build-'));
  say(`building ${name} v${version} with Go into ${dir} (once per machine, ${expected})`);
  try {
    await build(staging);
    await rename(join(staging, bin), target).catch((error) => {
      if (!existsSync(target)) throw error;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return target;
}

/** k6: K6_BIN, else a k6 on PATH of the pinned minor version, else the pinned version built with Go (about 50 s). */
export async function ensureK6(say: Say = () => undefined): Promise<string> {
  if (process.env.K6_BIN) return process.env.K6_BIN;
  const onPath = await reportedVersion('k6', ['version']);
  if (onPath && compareVersions(onPath, K6_VERSION) >= 0 && onPath.split('.')[0] === K6_VERSION.split('.')[0]) return 'k6';
  return cached('k6', K6_VERSION, 'k6', say, 'about 1 min', (staging) =>
    go(['install', `go.k6.io/k6@v${K6_VERSION}`], undefined, { GOBIN: staging }),
  );
}

/**
 * natscli (`nats bench`): NATS_CLI_BIN, else the pinned version built with Go (about 30 s). `go install` of the module
 * is refused by the module proxy here, so it is built from a throwaway module that requires it.
 */
export async function ensureNatsCli(say: Say = () => undefined): Promise<string> {
  if (process.env.NATS_CLI_BIN) return process.env.NATS_CLI_BIN;
  return cached('natscli', NATSCLI_VERSION, 'nats', say, 'about 30 s', async (staging) => {
    await writeFile(
      join(staging, 'go.mod'),
      `module jetsaga.local/natscli-build\n\ngo 1.24\n\nrequire github.com/nats-io/natscli v${NATSCLI_VERSION}\n`,
    );
    await writeFile(join(staging, 'tools.go'), '//go:build tools\n\npackage tools\n\nimport _ "github.com/nats-io/natscli/nats"\n');
    await go(['mod', 'tidy'], staging);
    await go(['build', '-o', join(staging, 'nats'), 'github.com/nats-io/natscli/nats'], staging);
  });
}

/**
 * Temporal CLI (`temporal server start-dev`, the benchmark's Temporal peer): TEMPORAL_CLI_BIN, else a `temporal` on
 * PATH of the pinned major version and at least the pinned one, else the pinned version built with Go (about 5 min
 * cold). The build stamps its version (a plain `go install` reports 0.0.0-DEV).
 */
export async function ensureTemporalCli(say: Say = () => undefined): Promise<string> {
  if (process.env.TEMPORAL_CLI_BIN) return process.env.TEMPORAL_CLI_BIN;
  const onPath = await reportedVersion('temporal', ['--version']);
  const [major] = TEMPORAL_CLI_VERSION.split('.');
  if (onPath && compareVersions(onPath, TEMPORAL_CLI_VERSION) >= 0 && onPath.split('.')[0] === major) return 'temporal';
  return cachedTool({
    name: 'temporal',
    version: TEMPORAL_CLI_VERSION,
    say,
    expected: 'about 5 min',
    build: async (staging) => {
      const stamp = `-X github.com/temporalio/cli/temporalcli.Version=${TEMPORAL_CLI_VERSION}`;
      await goTool(['install', '-ldflags', stamp, `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`], {
        env: { GOBIN: staging },
      });
    },
  });
}
