#!/usr/bin/env node
// `npm start`: the whole system on one machine. A local nats-server with JetStream and an embedded Postgres are
// provisioned unless NATS_URL / DATABASE_URL point elsewhere; every service runs as its own supervised process.
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  adminCredentials,
  ensureMailpit,
  ensureNatsServer,
  generatePasswords,
  natsAuthFor,
  newAuditSigningKey,
  newKeyEncryptionKey,
  natsUsers,
  loadTopologyConsumers,
  preferredPort,
  startNatsCluster,
  startNatsServer,
  startDevIssuer,
  startMailpit,
  startPostgres,
  startSystem,
} from '../packages/devstack/dist/index.js';
import { overriddenVariables, PASSED_VARIABLES } from '../packages/devstack/dist/system.js';
import { connectNats } from '../packages/platform/dist/index.js';
import { applyTopology, loadTopology } from '../services/operator/dist/index.js';
import { jetstreamManager } from '@nats-io/jetstream';

const say = (message) => console.log(`[jetsaga] ${message}`);
const dataDir =
  process.env.JETSAGA_DATA_DIR ??
  (userInfo().uid === 0 ? '/var/tmp/jetsaga' : join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'jetsaga'));
await mkdir(dataDir, { recursive: true });

// One system per data directory: a second nats-server or Postgres on the same files would corrupt them.
const pidFile = join(dataDir, 'jetsaga.pid');
const previous = Number.parseInt(await readFile(pidFile, 'utf8').catch(() => ''), 10);
if (previous && previous !== process.pid && isAlive(previous)) {
  console.error(`[jetsaga] already running (pid ${previous}) with data in ${dataDir}; stop it first, or set JETSAGA_DATA_DIR`);
  process.exit(1);
}
await writeFile(pidFile, String(process.pid));

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const cleanups = [];
let shuttingDown = false;
async function shutdown(code) {
  if (shuttingDown) return;
  shuttingDown = true;
  say('stopping…');
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      console.error(error);
    }
  }
  await rm(pidFile, { force: true });
  say('stopped; nothing left running');
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

/**
 * The NATS users' passwords, made once per data directory and kept there (0600): nats-server admits only these users,
 * each service connects as its own, and the admin (this script's topology step, natscli) manages the streams.
 */
async function natsPasswords(users) {
  const file = join(dataDir, 'nats-passwords.json');
  const kept = JSON.parse(await readFile(file, 'utf8').catch(() => '{}'));
  const missing = users.filter((user) => !kept[user]);
  if (missing.length > 0) Object.assign(kept, generatePasswords(missing));
  await writeFile(file, `${JSON.stringify(kept, null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return { file, passwords: kept };
}

/** The audit trail's checkpoint key, made once per data directory and kept there (0600) like the passwords. */
async function auditSigningKey() {
  if (process.env.AUDIT_SIGNING_KEY) return process.env.AUDIT_SIGNING_KEY;
  const file = join(dataDir, 'audit-signing-key');
  const kept = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (kept) return kept;
  const key = newAuditSigningKey();
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return key;
}

/**
 * The master key of customers' data keys (ADR 0052), made once per data directory and kept there (0600): the key
 * store in the embedded Postgres is unreadable without it, so a new one each start would erase everyone.
 */
async function keyEncryptionKey() {
  if (process.env.KEY_ENCRYPTION_KEY) return process.env.KEY_ENCRYPTION_KEY;
  const file = join(dataDir, 'key-encryption-key');
  const kept = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (kept) return kept;
  const key = newKeyEncryptionKey();
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return key;
}

try {
  const topologyDir = fileURLToPath(new URL('../k8s/topology', import.meta.url));
  const users = natsUsers(await loadTopologyConsumers(topologyDir));
  const { file: passwordFile, passwords } = await natsPasswords(users.map((user) => user.user));
  const natsAuth = await natsAuthFor(passwords, topologyDir);
  let natsUrl = process.env.NATS_URL;
  let natsMonitor;
  // `npm start -- --cluster`: three nats-servers routed on loopback, every stream at three replicas.
  const clustered = process.argv.includes('--cluster');
  if (!natsUrl && clustered) {
    const bin = await ensureNatsServer(say);
    const cluster = await startNatsCluster({ bin, dir: join(dataDir, 'nats-cluster'), auth: natsAuth });
    cleanups.push(() => cluster.stop());
    natsUrl = cluster.url;
    natsMonitor = cluster.nodes[0].monitorUrl;
    say(`nats      3-node cluster ${natsUrl} (JetStream R3, sync_interval always; data in ${join(dataDir, 'nats-cluster')})`);
  } else if (!natsUrl) {
    const bin = await ensureNatsServer(say);
    const nats = await startNatsServer({
      bin,
      dir: join(dataDir, 'nats'),
      port: await preferredPort(4222),
      monitorPort: await preferredPort(8222),
      auth: natsAuth,
    });
    cleanups.push(() => nats.stop());
    natsUrl = nats.url;
    natsMonitor = nats.monitorUrl;
    say(`nats-server ${natsUrl} (JetStream, sync_interval always; data in ${join(dataDir, 'nats')})`);
  }

  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    const postgres = await startPostgres({ dir: join(dataDir, 'postgres'), port: await preferredPort(5433) });
    cleanups.push(() => postgres.stop());
    databaseUrl = await postgres.createDatabase('jetsaga').catch((error) => {
      if (/already exists/.test(String(error))) return postgres.urlFor('jetsaga');
      throw error;
    });
    say(`postgres  127.0.0.1:${postgres.port}/jetsaga (embedded; data in ${join(dataDir, 'postgres')})`);
  }

  // The start script owns the stream topology locally, as the operator does in a cluster: the same declarations
  // (k8s/topology) through the operator's reconcile steps, as the admin (the services' users may not manage streams
  // or consumers, and theirs wait for this step).
  const nc = await connectNats(natsUrl, 'jetsaga-start', adminCredentials(natsAuth));
  const topology = await loadTopology(topologyDir);
  if (clustered) for (const stream of topology.streams) stream.spec.replicas = 3;
  const applied = await applyTopology(await jetstreamManager(nc), topology);
  say(`topology  ${applied.length} streams and consumers from k8s/topology in sync`);
  await nc.close();

  // Bearer tokens: the development issuer (its keys kept in the data directory, so `npm run token` signs with them),
  // unless AUTH_ISSUER names a real one, which then reaches every service with the other AUTH_* variables.
  let issuer;
  if (!process.env.AUTH_ISSUER) {
    issuer = await startDevIssuer({ dir: join(dataDir, 'issuer'), port: await preferredPort(8079), tokenEndpoint: true });
    cleanups.push(() => issuer.stop());
    say(`issuer    ${issuer.issuer} (development tokens; keys in ${join(dataDir, 'issuer')})`);
  } else {
    say(`issuer    ${process.env.AUTH_ISSUER} (from AUTH_ISSUER)`);
  }

  // Email: a local Mailpit (SMTP in, web UI and API out) unless SMTP_HOST names a real server.
  const mailEnv = {};
  let mailpit;
  if (!process.env.SMTP_HOST) {
    mailpit = await startMailpit({
      bin: await ensureMailpit(say),
      dir: join(dataDir, 'mailpit'),
      smtpPort: await preferredPort(1025),
      httpPort: await preferredPort(8025),
    });
    cleanups.push(() => mailpit.stop());
    Object.assign(mailEnv, {
      SMTP_HOST: mailpit.smtpHost,
      SMTP_PORT: String(mailpit.smtpPort),
      MAIL_LOOKUP_URL: mailpit.httpUrl,
      ONCALL_EMAIL: process.env.ONCALL_EMAIL ?? 'oncall@jetsaga.local',
    });
    say(
      `mailpit   smtp://${mailpit.smtpHost}:${mailpit.smtpPort}, web UI ${mailpit.httpUrl} (messages kept in ${join(dataDir, 'mailpit')})`,
    );
  } else {
    say(`smtp      ${process.env.SMTP_HOST}:${process.env.SMTP_PORT ?? 1025} (from SMTP_HOST)`);
  }

  const ignored = overriddenVariables(process.env);
  if (ignored.length > 0) say(`set per service by npm start, so not taken from the environment: ${ignored.join(', ')}`);
  const passed = Object.keys(process.env).filter((key) => PASSED_VARIABLES.includes(key) || key.startsWith('OTEL_'));
  if (passed.length > 0) say(`passed to every service: ${passed.join(', ')}`);
  // Traces: spans go where OTEL_EXPORTER_OTLP_ENDPOINT says; the event store reads a saga's back (GET
  // /api/sagas/:id/trace) from TRACE_QUERY_URL, by default `npm run jaeger`'s query API when the spans go to its OTLP port.
  const traceEnv = traceQueryDefault(process.env);
  const system = await startSystem({
    natsUrl,
    natsAuth,
    databaseUrl,
    ports: 'preferred',
    auditSigningKey: await auditSigningKey(),
    keyEncryptionKey: await keyEncryptionKey(),
    // The console's development sign-in asks this issuer for tokens through the gateway (GATEWAY_DEV_TOKEN_URL).
    env: { ...mailEnv, ...(issuer ? { ...issuer.env, GATEWAY_DEV_TOKEN_URL: issuer.tokenUrl } : {}), ...traceEnv },
    output: { kind: 'lines', onLine: (name, line) => console.log(`${name.padEnd(11)} | ${line}`) },
    onEvent: (event) => {
      if (event.kind === 'exited' && event.restartInMs !== undefined) {
        say(`${event.name} exited (code ${event.code}, signal ${event.signal}); restarting in ${event.restartInMs} ms`);
      }
    },
  });
  cleanups.push(() => system.stop());

  say('ready:');
  say(
    `  console   ${system.gatewayUrl}/   (shop and operations; ${issuer ? 'sign in with a role at /signin' : 'sign in with a token of your provider'})`,
  );
  say(`  gateway   ${system.gatewayUrl}/api   (try: npm run demo)`);
  for (const [name, url] of Object.entries(system.urls)) if (name !== 'gateway') say(`  ${name.padEnd(11)} ${url}`);
  if (natsMonitor) say(`  nats mon  ${natsMonitor}`);
  if (mailpit) say(`  mail      ${mailpit.httpUrl}   (every email the system sends, in Mailpit's web UI)`);
  if (issuer) {
    const token = await issuer.sign({ role: 'admin', sub: 'dev-admin', ttl: '12h' });
    say('every /api route needs a bearer token; an admin one, valid 12 h:');
    console.log(token);
    say('  more: npm run token -- --role admin|agent|customer [--sub <customerId>] [--ttl 1h]');
    say(`  try:  curl -H "Authorization: Bearer $(npm run --silent token -- --role admin)" ${system.gatewayUrl}/api/orders`);
  }
  say(`  nats users: admin and one per service, passwords in ${passwordFile} (0600); natscli as the admin:`);
  say(
    `    nats --server ${natsUrl.split(',')[0]} --user admin --password "$(node -p 'require(process.argv[1]).admin' ${passwordFile})" stream ls`,
  );
  sayTraces(system.gatewayUrl, { ...process.env, ...traceEnv });
  say('Ctrl-C stops everything.');
} catch (error) {
  console.error(error);
  await shutdown(1);
}

/** TRACE_QUERY_URL for `npm run jaeger` (query API on :16686) when the spans go to its OTLP port and none is set. */
function traceQueryDefault(env) {
  if (env.TRACE_QUERY_URL || !env.OTEL_EXPORTER_OTLP_ENDPOINT) return {};
  try {
    const endpoint = new URL(env.OTEL_EXPORTER_OTLP_ENDPOINT);
    const local = ['127.0.0.1', 'localhost', '[::1]'].includes(endpoint.hostname) && endpoint.port === '4318';
    return local ? { TRACE_BACKEND: 'jaeger', TRACE_QUERY_URL: `http://${endpoint.hostname}:16686` } : {};
  } catch {
    return {};
  }
}

/** Where a saga's trace is: the trace API (the console's waterfall reads it) and the backend's own query API. */
function sayTraces(gatewayUrl, env) {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT) {
    say('  traces    off: set OTEL_EXPORTER_OTLP_ENDPOINT (npm run jaeger prints it; README, Observability)');
    return;
  }
  say(`  traces    spans to ${env.OTEL_EXPORTER_OTLP_ENDPOINT}`);
  say(`            a saga's waterfall in the console: ${gatewayUrl}/ops/sagas/<correlationId>#trace (Sagas, then a saga)`);
  say(`            its spans as JSON: ${gatewayUrl}/api/sagas/<correlationId>/trace`);
  if (env.TRACE_QUERY_URL) {
    say(`            read back from ${env.TRACE_BACKEND ?? 'jaeger'} at ${env.TRACE_QUERY_URL}/api/traces/<traceId> (an HTTP API, no UI)`);
  } else {
    say('            set TRACE_QUERY_URL (and TRACE_BACKEND=jaeger|tempo) for the trace API to read them back');
  }
}
