import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const NATS_SERVER_VERSION = '2.15.2';
/** Message schedules (saga deadlines) need 2.12; cancelling one needs 2.14. */
export const NATS_SERVER_MINIMUM = '2.12.0';

export function cacheDir(): string {
  return process.env.JETSAGA_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'jetsaga');
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((part) => Number.parseInt(part, 10) || 0);
  const pb = b.split('.').map((part) => Number.parseInt(part, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  return 0;
}

export function parseNatsServerVersion(output: string): string | undefined {
  return /v?(\d+\.\d+\.\d+)/.exec(output)?.[1];
}

async function versionOf(bin: string): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await run(bin, ['--version'], { timeout: 10_000 });
    return parseNatsServerVersion(stdout + stderr);
  } catch {
    return undefined;
  }
}

export type Say = (message: string) => void;

/**
 * Finds a nats-server: NATS_SERVER_BIN, else one on PATH that is new enough, else the pinned version from the
 * cache, else builds the pinned version with Go into the cache (about 30 s, once per machine).
 */
export async function ensureNatsServer(say: Say = () => undefined): Promise<string> {
  if (process.env.NATS_SERVER_BIN) return process.env.NATS_SERVER_BIN;
  const onPath = await versionOf('nats-server');
  if (onPath && compareVersions(onPath, NATS_SERVER_MINIMUM) >= 0) return 'nats-server';
  const dir = join(cacheDir(), 'tools', `nats-server-${NATS_SERVER_VERSION}`);
  const bin = join(dir, 'nats-server');
  if (existsSync(bin)) return bin;
  say(`building nats-server v${NATS_SERVER_VERSION} with Go into ${dir} (once per machine, about 30 s)`);
  await mkdir(dir, { recursive: true });
  const staging = await mkdtemp(join(dir, '.build-'));
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('go', ['install', `github.com/nats-io/nats-server/v2@v${NATS_SERVER_VERSION}`], {
        env: { ...process.env, GOBIN: staging, CGO_ENABLED: '0' },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      child.once('error', (error) =>
        reject(new Error('Go is needed to build nats-server (or put nats-server >= 2.12 on PATH)', { cause: error })),
      );
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`go install nats-server exited with ${code}`))));
    });
    await rename(join(staging, 'nats-server'), bin);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return bin;
}
