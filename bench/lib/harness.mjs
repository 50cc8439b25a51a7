/* global AbortSignal */
// The benchmark: the whole system as `npm start` runs it (same processes, outbox, inbox, mirror, projections and
// tracing as configured), on fresh servers, under open-loop load from k6, once with nats-server's
// `sync_interval: always` (the default) and once without. Everything runs on loopback and stops by itself.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { EVENTS_STREAM } from '../../packages/events/dist/index.js';
import {
  adminCredentials,
  createTestDatabase,
  natsAuthFor,
  startDevIssuer,
  startNatsServer,
  startMailpit,
  startPostgres,
  startSystem,
  waitFor,
} from '../../packages/devstack/dist/index.js';
import { connectNats } from '../../packages/platform/dist/index.js';
import { applyTopologyFrom } from '../../services/operator/dist/index.js';
import { jetstreamManager } from '@nats-io/jetstream';
import pg from 'pg';
import { loadAverage, machine, round, sampleProcesses } from './processes.mjs';
import { nodeJetStream, natsBench, postgresInsert } from './raw.mjs';
import { latencySummary, trackSagas } from './sagas.mjs';
import { summarizeProfiles } from './profiles.mjs';
import { runPeers } from './peers.mjs';

const TOPOLOGY = fileURLToPath(new URL('../../k8s/topology', import.meta.url));
const CPU_PROFILE_PRELOAD = fileURLToPath(new URL('./cpu-profile.mjs', import.meta.url));
const K6_SCRIPT = fileURLToPath(new URL('../k6/checkout.js', import.meta.url));
const SSE_CLIENTS = fileURLToPath(new URL('./sse-clients.mjs', import.meta.url));
const PROJECTIONS = ['order-summaries', 'sales-daily', 'stock-levels', 'saga-timelines'];

/** The admin token the bench's own requests carry (seeding, the event store's status and rebuilds). */
let bearer;

/** One JSON request to the system under test; a status of 300 or more is an error carrying the body. */
export async function call(base, method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path} -> ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function pool(count, limit, task) {
  let next = 0;
  const results = [];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await task(index);
      }
    }),
  );
  return results;
}

/**
 * Customers with balance and products with stock for every saga of the run; fewer products means hotter rows. Each
 * customer gets a token of their own: k6's shoppers shop as the customer they are, as real clients would.
 */
async function seed(base, options, file, issuer) {
  const customers = await pool(options.customers, 16, async (index) => {
    const customer = await call(base, 'POST', '/api/customers', {
      name: `Bench ${index}`,
      email: `bench-${index}-${Date.now()}@example.org`,
      balanceCents: 1_000_000_000,
    });
    return customer.id;
  });
  const products = await pool(options.products, 16, async (index) => {
    const product = await call(base, 'POST', '/api/products', {
      sku: `BENCH-${index}-${Date.now()}`,
      name: `Bench product ${index}`,
      priceCents: 100,
      stock: 10_000_000,
    });
    return product.id;
  });
  const tokens = {};
  for (const id of customers) tokens[id] = await issuer.sign({ role: 'customer', sub: id, ttl: '12h' });
  await writeFile(file, JSON.stringify({ customers, products, tokens }));
}

function runK6(k6, env, onPid) {
  return new Promise((resolve, reject) => {
    const child = spawn(k6, ['run', '--quiet', '--no-usage-report', '--no-color', K6_SCRIPT], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, K6_NO_USAGE_REPORT: 'true', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    onPid(child.pid);
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-200_000)));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`k6 exited with ${code}:\n${stderr.slice(-4000)}`));
      // What failed, in the words of the answers: distinct messages, most frequent first.
      const counts = new Map();
      for (const match of stderr.matchAll(/flow failed at ([^"\n]*)/g)) {
        const text = match[1].replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>').replace(/"(requestId|instance)":"[^"]*"/g, '"$1":…');
        counts.set(text, (counts.get(text) ?? 0) + 1);
      }
      resolve(
        [...counts]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 5)
          .map(([message, count]) => ({ message, count })),
      );
    });
  });
}

function k6Trend(metrics, name) {
  const values = metrics[name]?.values;
  if (!values) return null;
  return { p50: round(values['p(50)'], 1), p95: round(values['p(95)'], 1), p99: round(values['p(99)'], 1), max: round(values.max, 1) };
}

/**
 * What the database did during a step, from pg_stat_statements (exact, counted when each statement ends): statements
 * and their execution time, all and by statement, and the commits they made.
 */
async function databaseActivity(sql) {
  const { rows } = await sql.query(
    `SELECT queryid::text AS id, left(regexp_replace(query, '\\s+', ' ', 'g'), 140) AS text, calls::float8 AS calls,
            total_exec_time AS ms
     FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  const { rows: database } = await sql.query(
    'SELECT xact_commit::float8 AS commits FROM pg_stat_database WHERE datname = current_database()',
  );
  return { commits: database[0]?.commits ?? 0, statements: new Map(rows.map((row) => [row.id, row])) };
}

function activityPerSaga(before, after, sagas) {
  if (sagas === 0) return null;
  const deltas = [...after.statements.values()]
    .map((row) => {
      const earlier = before.statements.get(row.id);
      return { text: row.text, calls: row.calls - (earlier?.calls ?? 0), ms: row.ms - (earlier?.ms ?? 0) };
    })
    .filter((row) => row.calls > 0 && !row.text.includes('pg_stat_statements'));
  const calls = deltas.reduce((sum, row) => sum + row.calls, 0);
  const ms = deltas.reduce((sum, row) => sum + row.ms, 0);
  return {
    statementsPerSaga: round(calls / sagas, 1),
    executionMsPerSaga: round(ms / sagas, 2),
    // pg_stat_database counters reach the collector about once a second: approximate.
    commitsPerSaga: round((after.commits - before.commits) / sagas, 1),
    topStatements: deltas
      .sort((x, y) => y.calls - x.calls)
      .slice(0, 12)
      .map((row) => ({ perSaga: round(row.calls / sagas, 2), msPerSaga: round(row.ms / sagas, 3), statement: row.text })),
  };
}

async function lastSequence(jsm) {
  return (await jsm.streams.info(EVENTS_STREAM)).state.last_seq;
}

export async function withClient(url, use) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/**
 * k6 offers `rate` shoppers/s to `url` for `seconds`, with every process of the system sampled and the database's
 * statements read before and after (`readActivity`, on `ctx.sql`): the part of a step that jetsaga and its peers share.
 */
export async function offerLoad(ctx, { url, label, rate, seconds, readActivity }) {
  const summaryFile = join(ctx.work, `k6-${label}-${rate}-${Date.now()}.json`);
  let k6Pid;
  const sampler = sampleProcesses(() => ctx.targets(k6Pid));
  const spawnedAt = Date.now();
  await ctx.sql.query('SELECT pg_stat_clear_snapshot()');
  const activityBefore = await readActivity(ctx.sql);
  const errorSamples = await runK6(
    ctx.k6,
    {
      BASE_URL: url,
      SEED_FILE: ctx.seedFile,
      RATE: String(rate),
      DURATION: `${seconds}s`,
      MAX_VUS: String(Math.max(20, Math.min(ctx.options.maxVus, rate * 2))),
      SUMMARY_FILE: summaryFile,
    },
    (pid) => (k6Pid = pid),
  );
  const exitedAt = Date.now();
  await ctx.sql.query('SELECT pg_stat_clear_snapshot()');
  const activityAfter = await readActivity(ctx.sql);
  return { spawnedAt, exitedAt, errorSamples, processes: sampler.stop(), activityBefore, activityAfter, summaryFile };
}

/** One arrival-rate step: k6 offers `rate` shoppers/s for `seconds`; then the step's sagas are given time to end. */
async function step(ctx, rate, seconds, { record = true } = {}) {
  const { options, tracker, jsm, system } = ctx;
  const firstSeq = await lastSequence(jsm);
  const load = await offerLoad(ctx, { url: system.gatewayUrl, label: ctx.label, rate, seconds, readActivity: databaseActivity });
  const { spawnedAt, exitedAt, errorSamples, processes, activityBefore, activityAfter, summaryFile } = load;
  const lastSeq = await lastSequence(jsm);
  const unfinished = await tracker.drain(exitedAt, options.drainSeconds * 1000);
  if (!record) return undefined;
  const { metrics } = JSON.parse(await readFile(summaryFile, 'utf8'));
  const placed = tracker.placementsIn(spawnedAt, exitedAt);
  const activeFrom = placed[0] ?? spawnedAt;
  const activeTo = activeFrom + seconds * 1000;
  const sagas = tracker.placedIn(activeFrom, activeTo);
  const completed = tracker.endedIn(activeFrom, activeTo).length;
  const result = stepFigures({
    rate,
    seconds,
    metrics,
    sagas,
    completed,
    unfinished,
    errorSamples,
    processes,
    activity: [activityBefore, activityAfter],
    services: Object.keys(processes).filter((name) => !['nats-server', 'postgres', ...OUTSIDE_THE_SYSTEM].includes(name)),
    objectiveMs: options.objectiveMs,
  });
  result.eventsPerSecond = round((lastSeq - firstSeq) / ((exitedAt - spawnedAt) / 1000), 1);
  return result;
}

/** Processes that drive the load and measure it: not part of the system whose CPU per saga is reported. */
export const OUTSIDE_THE_SYSTEM = ['k6', 'bench driver', 'sse clients'];

/**
 * `--sse-streams N`: N open event streams (GET /api/stream/events, every new event, one token each) held through the
 * pass by a process of their own. Resolves once every stream is open; `stop()` gives what they received.
 */
async function holdEventStreams(gatewayUrl, count, issuer) {
  const tokens = [];
  for (let i = 0; i < count; i++) tokens.push(await issuer.sign({ role: 'agent', sub: `bench-viewer-${i}`, ttl: '12h' }));
  const child = spawn(process.execPath, [SSE_CLIENTS], {
    env: { ...process.env, JETSAGA_SSE_CONFIG: JSON.stringify({ url: gatewayUrl, tokens }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise((resolve, reject) => {
    const check = () => (output.includes('ready\n') ? resolve() : undefined);
    child.stdout.on('data', check);
    exited.then((code) => reject(new Error(`the SSE clients exited (${code}) before their streams were open`)));
  });
  return {
    pid: child.pid,
    async stop() {
      if (child.exitCode !== null) return { streams: count, error: 'exited early' };
      child.kill('SIGTERM');
      await exited;
      return JSON.parse(output.split('\n').filter(Boolean).at(-1) ?? '{}');
    },
  };
}

/** The largest peak RSS (MB) among `names` in a step's process figures, or null when none was sampled. */
function maxRss(processes, names) {
  const values = names.map((name) => processes[name]?.peakMemoryMb).filter((value) => typeof value === 'number');
  return values.length > 0 ? Math.max(...values) : null;
}

/**
 * The figures of one recorded step, for jetsaga and its peers alike: rates, outcomes, saga and HTTP latency, CPU per
 * completed saga by process, for `services` and for the whole system, and whether the step was sustained. `sagas` are
 * those placed in the step's window, each with its `outcome` and `latencyMs`; `completed` counts the sagas that ended
 * in it.
 */
export function stepFigures({
  rate,
  seconds,
  metrics,
  sagas,
  completed,
  unfinished,
  errorSamples,
  processes,
  activity,
  services,
  objectiveMs,
}) {
  const iterations = metrics.iterations?.values.count ?? 0;
  const dropped = metrics.dropped_iterations?.values.count ?? 0;
  const failed = metrics.flows_failed?.values.count ?? 0;
  const accepted = metrics.checkouts_accepted?.values.count ?? 0;
  const rejectedAt = (at) => metrics[`shoppers_rejected{at:${at}}`]?.values.count ?? 0;
  const latency = latencySummary(sagas);
  const result = {
    offeredPerSecond: rate,
    seconds,
    startedPerSecond: round(iterations / seconds, 1),
    acceptedPerSecond: round(accepted / seconds, 1),
    completedPerSecond: round(completed / seconds, 1),
    sagas: sagas.length,
    outcomes: {
      completed: sagas.filter((saga) => saga.outcome === 'COMPLETED').length,
      cancelled: sagas.filter((saga) => saga.outcome === 'CANCELLED').length,
    },
    unfinished,
    errors: failed,
    // Shoppers the system turned away with a 429 (admission control): not failures, and never counted as completed.
    rejected: metrics.shoppers_rejected?.values.count ?? 0,
    rejectedAt: { cart: rejectedAt('cart'), item: rejectedAt('item'), checkout: rejectedAt('checkout') },
    errorSamples,
    droppedIterations: dropped,
    latencyMs: latency,
    httpMs: {
      cart: k6Trend(metrics, 'http_req_duration{name:cart}'),
      item: k6Trend(metrics, 'http_req_duration{name:item}'),
      checkout: k6Trend(metrics, 'http_req_duration{name:checkout}'),
    },
    processes,
    database: activityPerSaga(activity[0], activity[1], completed),
    loadAverage: loadAverage(),
  };
  // CPU time per completed saga: robust to other work on the machine, which slows sagas down but does not make them
  // cost more CPU; the figure that before/after comparisons of an optimization use.
  for (const figures of Object.values(processes)) {
    figures.cpuMsPerSaga = completed > 0 ? round((figures.cpuPercent * 10) / (completed / seconds), 2) : null;
  }
  const cpuOf = (names) =>
    completed > 0
      ? round(
          names.reduce((total, name) => total + (processes[name]?.cpuMsPerSaga ?? 0), 0),
          2,
        )
      : null;
  result.serviceCpuMsPerSaga = cpuOf(services);
  // The whole system's CPU per saga (everything but the load and its measurement): what the peers are compared on.
  result.systemCpuMsPerSaga = cpuOf(Object.keys(processes).filter((name) => !OUTSIDE_THE_SYSTEM.includes(name)));
  const offered = rate * seconds;
  result.sustained =
    completed >= 0.95 * offered && unfinished === 0 && failed <= 0.01 * Math.max(1, iterations) && dropped <= 0.01 * offered;
  result.withinObjective = result.sustained && latency.p99 !== null && latency.p99 <= objectiveMs;
  result.rejectedPerSecond = round(result.rejected / seconds, 1);
  result.maxServiceRssMb = maxRss(processes, services);
  return result;
}

/** Mirror catch-up: wipe the mirror and time the copy of the whole stream back into Postgres. */
async function mirrorCatchUp(base) {
  const before = await call(base, 'GET', '/api/event-store/status');
  const events = before.mirror.streamPosition;
  const started = performance.now();
  await call(base, 'POST', '/api/event-store/mirror/reset');
  await waitFor(
    'the mirror to copy the stream again',
    async () => (await call(base, 'GET', '/api/event-store/status')).mirror.position >= events,
    300_000,
    20,
  );
  const seconds = (performance.now() - started) / 1000;
  return { events, seconds: round(seconds, 3), perSecond: Math.round(events / seconds) };
}

async function projectionsCaughtUp(base) {
  await waitFor(
    'projections to catch up with the mirror',
    async () => {
      const { projections } = await call(base, 'GET', '/api/projections');
      return projections.every((projection) => projection.lag === 0 && projection.state === 'LIVE');
    },
    300_000,
    50,
  );
}

/** Rebuild of each projection from position 1 beside the live one, until the new version is live. */
async function projectionRebuilds(base) {
  const results = [];
  for (const name of PROJECTIONS) {
    await projectionsCaughtUp(base);
    const status = await call(base, 'GET', '/api/event-store/status');
    const events = status.mirror.position;
    const started = performance.now();
    const building = await call(base, 'POST', `/api/projections/${name}/rebuild`);
    await waitFor(
      `projection ${name} v${building.version} to go live`,
      async () => {
        const { projections } = await call(base, 'GET', '/api/projections');
        return projections.some(
          (projection) => projection.name === name && projection.version === building.version && projection.state === 'LIVE',
        );
      },
      300_000,
      20,
    );
    const seconds = (performance.now() - started) / 1000;
    results.push({ name, events, seconds: round(seconds, 3), perSecond: Math.round(events / seconds) });
  }
  return results;
}

/** One complete pass on a fresh nats-server with the given durability setting. */
async function pass(shared, { syncAlways, full }) {
  const { options, say } = shared;
  const label = syncAlways ? 'sync-always' : 'sync-default';
  const work = await mkdtemp(join(shared.work, `${label}-`));
  const natsAuth = await natsAuthFor();
  const nats = await startNatsServer({ bin: shared.natsBin, dir: join(work, 'nats'), syncAlways, name: 'jetsaga-bench', auth: natsAuth });
  const nc = await connectNats(nats.url, 'bench', adminCredentials(natsAuth));
  const cleanups = [async () => nc.close(), () => nats.stop()];
  try {
    await applyTopologyFrom(nc, TOPOLOGY);
    const jsm = await jetstreamManager(nc);
    const databaseUrl = await createTestDatabase(shared.postgres.url, 'bench');
    await withClient(databaseUrl, (client) => client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements'));
    const profileDir = join(work, 'profiles');
    const profiling = options.profile && full;
    if (profiling) await mkdir(profileDir, { recursive: true });
    const logDir = join(work, 'logs');
    await mkdir(logDir, { recursive: true });
    // The customers' emails go to a Mailpit, as with npm start: the mail provider, outside the system measured.
    const mailpit = await startMailpit({ bin: shared.mailpitBin, dir: join(work, 'mailpit') });
    cleanups.push(() => mailpit.stop());
    say(`${label}: starting the system (nats-server sync_interval ${syncAlways ? 'always' : 'default (2 min)'})`);
    const system = await startSystem({
      natsUrl: nats.url,
      natsAuth,
      databaseUrl,
      ports: 'free',
      env: {
        ...shared.issuer.env,
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
        SMTP_HOST: mailpit.smtpHost,
        SMTP_PORT: String(mailpit.smtpPort),
        MAIL_LOOKUP_URL: mailpit.httpUrl,
        // The gateway's admission bounds (GATEWAY_MAX_INFLIGHT_CHECKOUTS and the others), to try other values.
        ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('GATEWAY_'))),
        ...(profiling ? { NODE_OPTIONS: `--import ${CPU_PROFILE_PRELOAD}`, JETSAGA_CPU_PROFILE_DIR: profileDir } : {}),
      },
      output: { kind: 'files', pathFor: (name) => join(logDir, `${name}.log`) },
    });
    let systemStopped = false;
    const pids = {};
    const stopSystem = async () => {
      if (systemStopped) return;
      systemStopped = true;
      for (const name of system.supervisor.names()) pids[system.supervisor.pid(name)] = name;
      await system.stop();
    };
    cleanups.push(stopSystem);
    const seedFile = join(work, 'seed.json');
    bearer = await shared.issuer.sign({ role: 'admin', sub: 'bench', ttl: '12h' });
    await seed(system.gatewayUrl, options, seedFile, shared.issuer);
    const tracker = await trackSagas(nc);
    cleanups.push(() => tracker.stop());
    let sse;
    if (options.sseStreams > 0) {
      say(`${label}: opening ${options.sseStreams} event streams (GET /api/stream/events), held through the pass`);
      sse = await holdEventStreams(system.gatewayUrl, options.sseStreams, shared.issuer);
      cleanups.push(async () => void (await sse.stop()));
    }
    const sql = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    cleanups.push(() => sql.end());
    const ctx = {
      options,
      label,
      work,
      tracker,
      jsm,
      sql,
      system,
      seedFile,
      k6: shared.k6,
      targets: (k6Pid) => ({
        ...Object.fromEntries(system.supervisor.names().map((name) => [name, { root: system.supervisor.pid(name) }])),
        'nats-server': { root: nats.pid() },
        postgres: { root: shared.postgresPid(), tree: true },
        k6: k6Pid ? { root: k6Pid } : undefined,
        'bench driver': { root: process.pid },
        'sse clients': sse ? { root: sse.pid } : undefined,
      }),
    };
    say(`${label}: warm-up, ${options.warmupRate}/s for ${options.warmupSeconds} s`);
    await step(ctx, options.warmupRate, options.warmupSeconds, { record: false });
    const steps = [];
    for (const rate of options.rates) {
      say(`${label}: ${rate} shoppers/s for ${options.stepSeconds} s`);
      const result = await step(ctx, rate, options.stepSeconds);
      steps.push(result);
      say(
        `${label}: ${rate}/s offered -> ${result.completedPerSecond}/s completed, saga p50 ${result.latencyMs.p50} ms p99 ${result.latencyMs.p99} ms` +
          `${result.unfinished ? `, ${result.unfinished} unfinished` : ''}${result.errors ? `, ${result.errors} errors` : ''}`,
      );
      if (result.completedPerSecond < 0.5 * rate || result.unfinished > 0.2 * result.sagas) {
        say(`${label}: saturated; higher rates skipped`);
        break;
      }
    }
    // Past saturation: does the system hold its peak, or collapse? Steps at multiples of the peak completed rate.
    const overloadSteps = [];
    const peak = steps.reduce((top, entry) => Math.max(top, entry.completedPerSecond), 0);
    if (full && peak > 0) {
      for (const multiple of options.overloadMultiples ?? []) {
        const rate = Math.max(1, Math.round(multiple * peak));
        say(`${label}: overload, ${multiple}x the peak of ${peak}/s: ${rate} shoppers/s for ${options.stepSeconds} s`);
        const result = await step(ctx, rate, options.stepSeconds);
        result.overloadMultiple = multiple;
        overloadSteps.push(result);
        say(
          `${label}: ${rate}/s offered -> ${result.completedPerSecond}/s completed (${round(result.completedPerSecond / peak, 2)} of the peak), ` +
            `${result.rejectedPerSecond}/s rejected, saga p99 ${result.latencyMs.p99} ms, max service RSS ${result.maxServiceRssMb} MB` +
            `${result.unfinished ? `, ${result.unfinished} unfinished` : ''}${result.errors ? `, ${result.errors} errors` : ''}`,
        );
      }
    }
    const status = await waitFor(
      'the mirror to catch up with the stream',
      async () => {
        const current = await call(system.gatewayUrl, 'GET', '/api/event-store/status');
        return current.mirror.lag === 0 ? current : undefined;
      },
      120_000,
      100,
    );
    const result = { syncAlways, steps, overloadSteps, stream: { events: status.mirror.streamPosition } };
    if (sse) {
      result.sse = await sse.stop();
      say(`${label}: event streams: ${JSON.stringify(result.sse)}`);
    }
    if (full) {
      say(`${label}: mirror catch-up over ${status.mirror.streamPosition} events`);
      result.mirrorCatchUp = await mirrorCatchUp(system.gatewayUrl);
      say(`${label}: projection rebuilds`);
      result.projectionRebuilds = await projectionRebuilds(system.gatewayUrl);
    }
    const { rows } = await sql.query('SELECT avg(octet_length(payload))::int AS size FROM eventstore.events');
    const size = rows[0]?.size ?? 512;
    result.stream.averageEventBytes = size;
    await tracker.stop();
    await stopSystem();
    if (profiling) result.profile = await summarizeProfiles(profileDir, pids, options.profileKeepDir);
    say(`${label}: raw JetStream limits at ${size} bytes per message`);
    result.raw = {
      messageBytes: size,
      natscli: await natsBench(shared.natsCli, nats.url, { messages: options.rawMessages, size, credentials: adminCredentials(natsAuth) }),
      nodeClient: await nodeJetStream(nc, { messages: options.rawMessages, size }),
    };
    if (full) {
      say(`${label}: raw Postgres batched insert`);
      result.raw.postgresInsert = await postgresInsert(databaseUrl, { rows: options.rawRows });
    }
    return result;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error) => say(`clean-up: ${error.message}`));
    if (!options.keep) await rm(work, { recursive: true, force: true });
  }
}

export function best(steps, predicate) {
  return steps.filter(predicate).reduce((top, entry) => (!top || entry.offeredPerSecond > top.offeredPerSecond ? entry : top), undefined);
}

/** The highest sustained rate objective (sagas/s), and the rate the p99 objective is judged at: half of it. */
const SUSTAINED_OBJECTIVE = 400;
const LATENCY_OBJECTIVE_RATE = SUSTAINED_OBJECTIVE / 2;
/** At 2x and 4x the peak, the completed rate must hold at this share of the peak. */
const OVERLOAD_HOLD = 0.9;
const SERVICE_RSS_OBJECTIVE_MB = 150;
const NOT_SERVICES = ['nats-server', 'postgres', ...OUTSIDE_THE_SYSTEM];

/**
 * One overload step against the pass's peak: its completed rate as a share of the peak, and whether its queue stayed
 * bounded. A queue that grows through the step shows as a p99 that grows with the step and as memory: bounded means
 * saga p99 at most twice the peak step's (or the p99 objective, if larger), every saga ended within the drain, and
 * no service above the RSS objective or 1.2 times its peak step's RSS, whichever is larger.
 */
function overloadFigures(entry, peakStep, objectiveMs) {
  const peak = peakStep?.completedPerSecond ?? 0;
  const p99Bound = Math.max(objectiveMs, 2 * (peakStep?.latencyMs.p99 ?? 0));
  const p99Bounded = entry.latencyMs.p99 !== null && entry.latencyMs.p99 <= p99Bound && entry.unfinished === 0;
  const rssBound = round(Math.max(SERVICE_RSS_OBJECTIVE_MB, 1.2 * (peakStep?.maxServiceRssMb ?? 0)), 1);
  const memoryBounded = entry.maxServiceRssMb !== null && entry.maxServiceRssMb <= rssBound;
  return {
    multiple: entry.overloadMultiple,
    offeredPerSecond: entry.offeredPerSecond,
    completedPerSecond: entry.completedPerSecond,
    completedVsPeak: peak > 0 ? round(entry.completedPerSecond / peak, 3) : null,
    rejectedPerSecond: entry.rejectedPerSecond,
    errors: entry.errors,
    unfinished: entry.unfinished,
    p99: entry.latencyMs.p99,
    p99BoundMs: p99Bound,
    maxRssMb: entry.maxServiceRssMb,
    rssBoundMb: rssBound,
    bounded: p99Bounded && memoryBounded,
  };
}

/** Ratios and verdicts computed from one pass's figures. */
function summarize(pass, objectiveMs) {
  const sustained = best(pass.steps, (entry) => entry.sustained);
  const withinObjective = best(pass.steps, (entry) => entry.withinObjective);
  const peakStep = pass.steps.reduce((top, entry) => (!top || entry.completedPerSecond > top.completedPerSecond ? entry : top), undefined);
  const peak = peakStep?.completedPerSecond ?? 0;
  const peakEvents = pass.steps.reduce((top, entry) => Math.max(top, entry.eventsPerSecond), 0);
  pass.summary = {
    highestSustainedRate: sustained?.offeredPerSecond ?? null,
    highestRateWithinObjective: withinObjective?.offeredPerSecond ?? null,
    objectiveP99Ms: objectiveMs,
    peakCompletedPerSecond: peak,
    peakEventsPerSecond: peakEvents,
    ratios: {
      sagaEventsVsRawPublish: pass.raw ? round(peakEvents / pass.raw.natscli.publishPerSecond, 4) : null,
      mirrorRowsVsRawInsert:
        pass.mirrorCatchUp && pass.raw?.postgresInsert
          ? round(pass.mirrorCatchUp.perSecond / pass.raw.postgresInsert.rowsPerSecond, 3)
          : null,
    },
    overload: (pass.overloadSteps ?? []).map((entry) => overloadFigures(entry, peakStep, objectiveMs)),
  };
}

/** The issue's benchmark objectives, each measured in the first pass (`sync_interval: always`) and met or not. */
function objectives(report) {
  const always = report.passes[0];
  const { summary } = always;
  const sustainedStep = always.steps.find((entry) => entry.offeredPerSecond === summary.highestSustainedRate);
  const cpu = sustainedStep?.systemCpuMsPerSaga ?? null;
  const ratio = summary.ratios.sagaEventsVsRawPublish;
  const half = always.steps.find((entry) => entry.offeredPerSecond === LATENCY_OBJECTIVE_RATE);
  const catchUp = always.mirrorCatchUp?.perSecond ?? null;
  const rebuild = always.projectionRebuilds?.length ? Math.min(...always.projectionRebuilds.map((entry) => entry.perSecond)) : null;
  const slowestCopy = catchUp !== null && rebuild !== null ? Math.min(catchUp, rebuild) : null;
  const rss = [...always.steps, ...(always.overloadSteps ?? [])].flatMap((entry) =>
    Object.entries(entry.processes)
      .filter(([name]) => !NOT_SERVICES.includes(name))
      .map(([, figures]) => figures.peakMemoryMb),
  );
  const maxRss = rss.length ? Math.max(...rss) : null;
  const overload = (multiple) => {
    const figures = (summary.overload ?? []).find((entry) => entry.multiple === multiple);
    return {
      name: `completed at ${multiple}x the peak offered rate, vs the peak (queue bounded: p99 and memory)`,
      objective: `>= ${OVERLOAD_HOLD}, bounded`,
      measured: figures?.completedVsPeak ?? 'not run',
      detail: figures
        ? `${figures.completedPerSecond}/s of ${summary.peakCompletedPerSecond}/s at ${figures.offeredPerSecond}/s offered, ` +
          `${figures.rejectedPerSecond}/s rejected; saga p99 ${figures.p99} ms (bound ${figures.p99BoundMs} ms), ` +
          `${figures.unfinished} unfinished, max service RSS ${figures.maxRssMb} MB (bound ${figures.rssBoundMb} MB)`
        : undefined,
      met: Boolean(figures && figures.completedVsPeak !== null && figures.completedVsPeak >= OVERLOAD_HOLD && figures.bounded),
    };
  };
  return [
    {
      name: 'CPU per completed saga at the highest sustained rate, all processes but k6 and the bench driver (ms)',
      objective: '<= 4',
      measured: cpu ?? 'no sustained rate',
      detail: sustainedStep ? `at ${sustainedStep.offeredPerSecond}/s` : undefined,
      met: cpu !== null && cpu <= 4,
    },
    {
      name: 'saga events/s vs raw JetStream publish/s of the same run',
      objective: '>= 0.8',
      measured: ratio,
      detail: always.raw ? `${summary.peakEventsPerSecond} events/s against ${always.raw.natscli.publishPerSecond}/s raw` : undefined,
      met: ratio !== null && ratio >= 0.8,
    },
    {
      name: 'highest sustained rate (sagas/s)',
      objective: `>= ${SUSTAINED_OBJECTIVE}`,
      measured: summary.highestSustainedRate ?? 'none',
      met: (summary.highestSustainedRate ?? 0) >= SUSTAINED_OBJECTIVE,
    },
    {
      name: `saga p99 at half of that rate (${LATENCY_OBJECTIVE_RATE}/s)`,
      objective: `<= ${report.options.objectiveMs ?? 50} ms`,
      measured: half ? half.latencyMs.p99 : 'not reached',
      detail: half ? (half.sustained ? 'sustained' : 'not sustained') : undefined,
      met: Boolean(half?.sustained && half.latencyMs.p99 !== null && half.latencyMs.p99 <= (report.options.objectiveMs ?? 50)),
    },
    overload(2),
    overload(4),
    {
      name: 'mirror catch-up and every projection rebuild, events/s (the slowest)',
      objective: '>= 50000',
      measured: slowestCopy,
      detail: catchUp !== null ? `mirror ${catchUp}/s, slowest rebuild ${rebuild}/s` : undefined,
      met: (slowestCopy ?? 0) >= 50_000,
    },
    {
      name: 'service RSS, max over every step (MB)',
      objective: `<= ${SERVICE_RSS_OBJECTIVE_MB}`,
      measured: maxRss,
      met: maxRss !== null && maxRss <= SERVICE_RSS_OBJECTIVE_MB,
    },
  ];
}

export async function runBench(options, say) {
  const started = performance.now();
  const work = await mkdtemp(join(tmpdir(), 'jetsaga-bench-'));
  const pgDir = await mkdtemp(join(tmpdir(), 'jetsaga-bench-pg-'));
  say('starting Postgres (embedded, durable settings as npm start)');
  const postgres = await startPostgres({ dir: pgDir, ephemeral: true });
  // Statement counts per saga (pg_stat_statements) are exact where CPU figures are noisy: loaded at start-up.
  await withClient(postgres.url, (client) => client.query("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"));
  await postgres.restart();
  // The postmaster's pid is the first line of its pid file; its backends are its children.
  const postgresPid = () => Number(readFileSync(join(pgDir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const before = machine();
  // Bearer tokens, as npm start has them: a development issuer on loopback that every service verifies against.
  const issuer = await startDevIssuer({ dir: join(work, 'issuer') });
  const shared = { ...options.tools, options, say, work, postgres, postgresPid, issuer };
  let postgresStopped = false;
  try {
    const passes = [await pass(shared, { syncAlways: true, full: true })];
    if (options.compareSync) passes.push(await pass(shared, { syncAlways: false, full: false }));
    for (const entry of passes) summarize(entry, options.objectiveMs);
    const report = {
      schema: 'jetsaga-bench/1',
      generatedAt: new Date().toISOString(),
      quick: options.quick,
      durationSeconds: round((performance.now() - started) / 1000, 1),
      machine: { ...before, loadAverageAfter: loadAverage(), node: process.version, natsServer: options.natsServerVersion },
      options: {
        rates: options.rates,
        overloadMultiples: options.overloadMultiples ?? [],
        stepSeconds: options.stepSeconds,
        warmupSeconds: options.warmupSeconds,
        customers: options.customers,
        products: options.products,
        objectiveMs: options.objectiveMs,
        rawMessages: options.rawMessages,
        rawRows: options.rawRows,
        tracing: process.env.OTEL_EXPORTER_OTLP_ENDPOINT ? 'on' : 'off',
        sseStreams: options.sseStreams ?? 0,
        logLevel: process.env.LOG_LEVEL ?? 'info',
        // GATEWAY_* given to the bench (the admission bounds); empty: the gateway's defaults.
        gateway: Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('GATEWAY_'))),
        peers: options.peers ?? [],
        peerRates: (options.peers ?? []).length > 0 ? options.peerRates : [],
      },
      passes,
    };
    const [always, relaxed] = passes;
    if (relaxed) {
      report.durability = {
        rawPublishSyncAlwaysVsDefault: round(always.raw.natscli.publishPerSecond / relaxed.raw.natscli.publishPerSecond, 3),
        nodePublishSyncAlwaysVsDefault: round(always.raw.nodeClient.publishPerSecond / relaxed.raw.nodeClient.publishPerSecond, 3),
        peakSagasSyncAlwaysVsDefault: relaxed.summary.peakCompletedPerSecond
          ? round(always.summary.peakCompletedPerSecond / relaxed.summary.peakCompletedPerSecond, 3)
          : null,
      };
    }
    report.objectives = objectives(report);
    if ((options.peers ?? []).length > 0) {
      // The peers after jetsaga's passes, each on servers of its own: jetsaga's Postgres is stopped first.
      await postgres.stop();
      postgresStopped = true;
      report.peers = await runPeers({ options, say, work, tools: options.tools }, always);
      report.durationSeconds = round((performance.now() - started) / 1000, 1);
    }
    return report;
  } finally {
    if (!postgresStopped) await postgres.stop();
    await issuer.stop();
    if (options.keep) say(`kept server data and service logs in ${work}`);
    else await rm(work, { recursive: true, force: true });
  }
}
