import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type NatsAuth, natsAuthorizationConfig } from './nats-auth.js';
import { freePort, waitFor } from './ports.js';
import { terminate } from './process.js';

export type NatsServerOptions = {
  bin: string;
  /** Directory for JetStream data, the config file and the log. */
  dir: string;
  port?: number;
  monitorPort?: number;
  /** fsync every write before acknowledging (default true); false uses the server's 2-minute interval. */
  syncAlways?: boolean;
  name?: string;
  /** Joins a cluster: this node's route port and the other nodes' route ports (all on loopback). */
  cluster?: { name: string; port: number; routes: number[] };
  /** Users and permissions (nats-auth.ts); without it the server admits anonymous clients, which nothing here does. */
  auth?: NatsAuth;
};

export type NatsServer = {
  url: string;
  port: number;
  monitorUrl: string;
  pid(): number | undefined;
  /** Graceful stop (SIGTERM), waiting for exit. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash or a power cut would. */
  kill(): Promise<void>;
  /** Starts it again on the same ports with the same data. */
  restart(): Promise<void>;
  /** The users it admits, when started with them. */
  auth?: NatsAuth;
};

type ResolvedOptions = Required<Omit<NatsServerOptions, 'bin' | 'cluster' | 'auth'>> & Pick<NatsServerOptions, 'cluster' | 'auth'>;

function configText(options: ResolvedOptions): string {
  const cluster = options.cluster
    ? [
        'cluster {',
        `  name: ${options.cluster.name}`,
        `  listen: 127.0.0.1:${options.cluster.port}`,
        `  routes: [${options.cluster.routes.map((port) => `nats-route://127.0.0.1:${port}`).join(', ')}]`,
        '}',
      ]
    : [];
  return [
    `server_name: ${options.name}`,
    `listen: 127.0.0.1:${options.port}`,
    `http: 127.0.0.1:${options.monitorPort}`,
    'jetstream {',
    `  store_dir: "${join(options.dir, 'jetstream')}"`,
    // Acknowledged writes survive a power loss only when each write is synced before the ack.
    options.syncAlways ? '  sync_interval: always' : '',
    '}',
    ...cluster,
    options.auth ? natsAuthorizationConfig(options.auth.users, (user) => options.auth!.passwords[user] ?? '') : '',
    '',
  ].join('\n');
}

export async function startNatsServer(options: NatsServerOptions): Promise<NatsServer> {
  await mkdir(options.dir, { recursive: true });
  const resolved: ResolvedOptions = {
    dir: options.dir,
    port: options.port ?? (await freePort()),
    monitorPort: options.monitorPort ?? (await freePort()),
    syncAlways: options.syncAlways ?? true,
    name: options.name ?? 'jetsaga',
    cluster: options.cluster,
    auth: options.auth,
  };
  const configFile = join(options.dir, 'nats-server.conf');
  // The config holds the users' passwords: readable by its owner only.
  await writeFile(configFile, configText(resolved), { mode: 0o600 });
  await chmod(configFile, 0o600);
  const monitorUrl = `http://127.0.0.1:${resolved.monitorPort}`;
  let child: ChildProcess | undefined;

  const launch = async () => {
    const logFile = createWriteStream(join(options.dir, 'nats-server.log'), { flags: 'a' });
    const started = spawn(options.bin, ['-c', configFile], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    started.stdout?.pipe(logFile);
    started.stderr?.pipe(logFile);
    child = started;
    let exited = false;
    started.once('exit', () => {
      exited = true;
    });
    await waitFor(
      `nats-server on port ${resolved.port} (log: ${join(options.dir, 'nats-server.log')})`,
      async () => {
        if (exited) throw new Error('nats-server exited during start-up');
        const response = await fetch(`${monitorUrl}/healthz?js-enabled-only=true`);
        return response.ok;
      },
      20_000,
    );
  };

  await launch();
  return {
    url: `nats://127.0.0.1:${resolved.port}`,
    port: resolved.port,
    monitorUrl,
    ...(options.auth ? { auth: options.auth } : {}),
    pid: () => child?.pid,
    stop: () => terminate(child, 'SIGTERM'),
    kill: () => terminate(child, 'SIGKILL'),
    restart: async () => {
      await terminate(child, 'SIGTERM');
      await launch();
    },
  };
}

export type NatsCluster = {
  /** Every node's client URL, comma-separated, as NATS_URL takes them. */
  url: string;
  nodes: NatsServer[];
  stop(): Promise<void>;
};

/**
 * Three (or more) JetStream servers routed together on loopback, for R3 streams: what a production deployment runs,
 * and what the fault tests kill one node of.
 */
export async function startNatsCluster(options: {
  bin: string;
  dir: string;
  size?: number;
  syncAlways?: boolean;
  auth?: NatsAuth;
}): Promise<NatsCluster> {
  const size = options.size ?? 3;
  const routePorts: number[] = [];
  for (let i = 0; i < size; i++) routePorts.push(await freePort());
  const nodes = await Promise.all(
    routePorts.map((port, index) =>
      startNatsServer({
        bin: options.bin,
        dir: join(options.dir, `n${index + 1}`),
        name: `jetsaga-n${index + 1}`,
        syncAlways: options.syncAlways,
        auth: options.auth,
        cluster: { name: 'jetsaga', port, routes: routePorts.filter((other) => other !== port) },
      }),
    ),
  );
  // Ready when every node reports JetStream healthy with a meta leader elected.
  await waitFor(
    'the NATS cluster to elect a JetStream meta leader',
    async () => {
      for (const node of nodes) if (!(await fetch(`${node.monitorUrl}/healthz`)).ok) return false;
      return true;
    },
    30_000,
    100,
  );
  return {
    url: nodes.map((node) => node.url).join(','),
    nodes,
    stop: async () => {
      await Promise.all(nodes.map((node) => node.stop()));
    },
  };
}
