import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, waitFor } from './ports.js';

export type NatsServerOptions = {
  bin: string;
  /** Directory for JetStream data, the config file and the log. */
  dir: string;
  port?: number;
  monitorPort?: number;
  /** fsync every write before acknowledging (default true); false uses the server's 2-minute interval. */
  syncAlways?: boolean;
  name?: string;
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
};

function configText(options: Required<Omit<NatsServerOptions, 'bin'>>): string {
  return [
    `server_name: ${options.name}`,
    `listen: 127.0.0.1:${options.port}`,
    `http: 127.0.0.1:${options.monitorPort}`,
    'jetstream {',
    `  store_dir: "${join(options.dir, 'jetstream')}"`,
    // Acknowledged writes survive a power loss only when each write is synced before the ack.
    options.syncAlways ? '  sync_interval: always' : '',
    '}',
    '',
  ].join('\n');
}

export async function startNatsServer(options: NatsServerOptions): Promise<NatsServer> {
  await mkdir(options.dir, { recursive: true });
  const resolved = {
    dir: options.dir,
    port: options.port ?? (await freePort()),
    monitorPort: options.monitorPort ?? (await freePort()),
    syncAlways: options.syncAlways ?? true,
    name: options.name ?? 'jetsaga',
  };
  const configFile = join(options.dir, 'nats-server.conf');
  await writeFile(configFile, configText(resolved));
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

  const terminate = async (signal: NodeJS.Signals) => {
    const current = child;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      current.once('exit', () => resolve());
      current.kill(signal);
    });
  };

  await launch();
  return {
    url: `nats://127.0.0.1:${resolved.port}`,
    port: resolved.port,
    monitorUrl,
    pid: () => child?.pid,
    stop: () => terminate('SIGTERM'),
    kill: () => terminate('SIGKILL'),
    restart: async () => {
      await terminate('SIGTERM');
      await launch();
    },
  };
}
