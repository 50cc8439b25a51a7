import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, waitFor } from './ports.js';

export type JaegerServer = {
  /** OTLP over HTTP: what `OTEL_EXPORTER_OTLP_ENDPOINT` points at. */
  otlpHttpUrl: string;
  /** The UI and the HTTP query API (`/api/traces/<id>`, `/api/services`). */
  queryUrl: string;
  stop(): Promise<void>;
};

export type JaegerOptions = {
  bin: string;
  /** Holds the configuration and the log. */
  dir: string;
  /** Fixed ports (npm start beside a browser) or any free ones (tests). */
  ports?: { otlpHttp: number; otlpGrpc: number; query: number; queryGrpc: number };
  host?: string;
};

function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Starts `bin` with its output appended to `dir/<name>.log` and waits until `readyUrl` answers 2xx; a server that exits
 * or never answers is stopped and named in the error with its log.
 */
async function launchUntilReady(name: string, bin: string, args: string[], dir: string, readyUrl: string): Promise<ChildProcess> {
  const logFile = join(dir, `${name}.log`);
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  child.once('exit', () => log.end());
  try {
    await waitFor(
      `${name} to be ready`,
      async () => {
        if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}; see ${logFile}`);
        return (await fetch(readyUrl, { signal: AbortSignal.timeout(1000) })).ok;
      },
      30_000,
      100,
    );
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return child;
}

/**
 * Jaeger v2 with in-memory storage, receiving OTLP over HTTP and answering trace queries, on loopback only. Its own
 * telemetry is off, so that several can run side by side (a test beside `npm start`).
 */
export async function startJaeger(options: JaegerOptions): Promise<JaegerServer> {
  const host = options.host ?? '127.0.0.1';
  const ports = options.ports ?? {
    otlpHttp: await freePort(),
    otlpGrpc: await freePort(),
    query: await freePort(),
    queryGrpc: await freePort(),
  };
  await mkdir(options.dir, { recursive: true });
  const config = join(options.dir, 'jaeger.yaml');
  await writeFile(
    config,
    `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: ${host}:${ports.query}
    grpc:
      endpoint: ${host}:${ports.queryGrpc}
receivers:
  otlp:
    protocols:
      http:
        endpoint: ${host}:${ports.otlpHttp}
      grpc:
        endpoint: ${host}:${ports.otlpGrpc}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`,
  );
  const queryUrl = `http://${host}:${ports.query}`;
  const child = await launchUntilReady('jaeger', options.bin, ['--config', config], options.dir, `${queryUrl}/api/services`);
  return { otlpHttpUrl: `http://${host}:${ports.otlpHttp}`, queryUrl, stop: () => stopChild(child) };
}

export type PrometheusServer = { url: string; stop(): Promise<void> };

export type PrometheusOptions = {
  bin: string;
  /** Holds the configuration, the TSDB and the log. */
  dir: string;
  /** prometheus.yml contents; rule files it names are relative to `dir`. */
  config: string;
  port?: number;
  host?: string;
};

/** A Prometheus with exemplar storage, its data in `dir`, listening on loopback. */
export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort());
  await mkdir(options.dir, { recursive: true });
  const config = join(options.dir, 'prometheus.yml');
  await writeFile(config, options.config);
  const url = `http://${host}:${port}`;
  const child = await launchUntilReady(
    'prometheus',
    options.bin,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(options.dir, 'data')}`,
      `--web.listen-address=${host}:${port}`,
      '--enable-feature=exemplar-storage',
      '--web.enable-lifecycle',
    ],
    options.dir,
    `${url}/-/ready`,
  );
  return { url, stop: () => stopChild(child) };
}

export type AlertmanagerServer = { url: string; stop(): Promise<void> };

export type AlertmanagerOptions = {
  bin: string;
  /** Holds the configuration, its silences and notification log, and the log. */
  dir: string;
  /** alertmanager.yml contents. */
  config: string;
  port?: number;
  host?: string;
};

/** An Alertmanager on loopback with gossip off (a single instance: no cluster port). */
export async function startAlertmanager(options: AlertmanagerOptions): Promise<AlertmanagerServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort());
  await mkdir(options.dir, { recursive: true });
  const config = join(options.dir, 'alertmanager.yml');
  // The config may hold the webhook's credentials.
  await writeFile(config, options.config, { mode: 0o600 });
  const url = `http://${host}:${port}`;
  const child = await launchUntilReady(
    'alertmanager',
    options.bin,
    [
      `--config.file=${config}`,
      `--storage.path=${join(options.dir, 'data')}`,
      `--web.listen-address=${host}:${port}`,
      '--cluster.listen-address=',
    ],
    options.dir,
    `${url}/-/ready`,
  );
  return { url, stop: () => stopChild(child) };
}
