// Benchmark peers: the same order saga on DBOS Transact and on Temporal, after jetsaga's pass, each on fresh servers
// (its own embedded Postgres with the durable settings `npm start` uses; for Temporal, the CLI's development server),
// driven by the same k6 script through the same HTTP shape, measured the same way (CPU and memory per process from
// /proc, saga latency from the checkout instant to the instant the outcome was written), then checked for stock and
// money conservation and for every order ending. The peers' code is in bench/peers/; it is never part of the product.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort, startPostgres, waitFor } from '../../packages/devstack/dist/index.js';
import { SCHEMA } from '../peers/shared/store.mjs';
import { best, call, offerLoad, stepFigures, withClient } from './harness.mjs';
import { round } from './processes.mjs';

export const PEERS = ['dbos', 'temporal'];
const PEER_DIR = fileURLToPath(new URL('../peers', import.meta.url));
const PROBES = 3;

const sleep = (ms) => new Promise((resolve) => globalThis.setTimeout(resolve, ms));

/** A child process with its output in a log file (and the last lines kept for errors); stop() ends it, by its pid. */
function launch(name, command, args, { env, logFile, cwd }) {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  let exited;
  const keep = (chunk) => {
    log.write(chunk);
    tail = (tail + chunk).slice(-6000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exit = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    child.once('error', (error) => {
      exited = { error };
      keep(String(error));
      resolve();
    });
  });
  return {
    name,
    pid: child.pid,
    alive: () => !exited,
    failure() {
      return exited ? new Error(`${name} exited (${exited.error?.message ?? exited.code ?? exited.signal}):\n${tail}`) : undefined;
    },
    async waitForOutput(text, timeoutMs) {
      await waitFor(
        `${name} to say "${text}"`,
        async () => {
          const failure = this.failure();
          if (failure) throw failure;
          return tail.includes(text);
        },
        timeoutMs,
        100,
      );
    },
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = globalThis.setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exit;
        globalThis.clearTimeout(timer);
      }
      await new Promise((resolve) => log.end(resolve));
    },
  };
}

function listening(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The same customers and products as jetsaga's seed (balances and stock for every saga), plus two for the probes. */
async function seed(sql, options, file) {
  const customers = Array.from({ length: options.customers }, () => randomUUID());
  const products = Array.from({ length: options.products }, () => randomUUID());
  const poorCustomer = randomUUID();
  const emptyProduct = randomUUID();
  await sql.query(
    `INSERT INTO customers (id, name, balance_cents, initial_balance_cents)
     SELECT id, 'Bench ' || ordinality, 1000000000, 1000000000 FROM unnest($1::uuid[]) WITH ORDINALITY AS c(id, ordinality)`,
    [customers],
  );
  await sql.query("INSERT INTO customers (id, name, balance_cents, initial_balance_cents) VALUES ($1, 'Bench, no money', 0, 0)", [
    poorCustomer,
  ]);
  await sql.query(
    `INSERT INTO products (id, sku, price_cents, stock, initial_stock)
     SELECT id, 'BENCH-' || ordinality, 100, 10000000, 10000000 FROM unnest($1::uuid[]) WITH ORDINALITY AS p(id, ordinality)`,
    [products],
  );
  await sql.query("INSERT INTO products (id, sku, price_cents, stock, initial_stock) VALUES ($1, 'BENCH-EMPTY', 100, 0, 0)", [
    emptyProduct,
  ]);
  await writeFile(file, JSON.stringify({ customers, products }));
  return { customers, products, poorCustomer, emptyProduct };
}

/** Statements and commits of every database on the peer's Postgres (DBOS keeps its checkpoints in its own one). */
async function activity(sql) {
  const { rows } = await sql.query(
    `SELECT s.queryid::text || '/' || s.dbid AS id,
            left(coalesce(d.datname, '?') || ': ' || regexp_replace(s.query, '\\s+', ' ', 'g'), 140) AS text,
            s.calls::float8 AS calls, s.total_exec_time AS ms
     FROM pg_stat_statements s LEFT JOIN pg_database d ON d.oid = s.dbid`,
  );
  const { rows: commits } = await sql.query('SELECT sum(xact_commit)::float8 AS commits FROM pg_stat_database');
  return { commits: commits[0]?.commits ?? 0, statements: new Map(rows.map((row) => [row.id, row])) };
}

async function openBefore(sql, before) {
  const { rows } = await sql.query("SELECT count(*)::int AS open FROM orders WHERE status = 'PENDING' AND placed_at_ms < $1", [before]);
  return rows[0].open;
}

/** Waits (bounded) until every order placed before `before` ended; returns how many are still open. */
async function drain(sql, before, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await openBefore(sql, before);
    if (open === 0 || Date.now() >= deadline) return open;
    await sleep(250);
  }
}

/** One arrival-rate step against a peer: the same load, windows and verdicts as jetsaga's steps. */
async function step(ctx, rate, seconds, { record = true } = {}) {
  const { options, sql } = ctx;
  const load = await offerLoad(ctx, { url: ctx.url, label: ctx.name, rate, seconds, readActivity: activity });
  const { spawnedAt, exitedAt, errorSamples, processes, activityBefore, activityAfter, summaryFile } = load;
  const unfinished = await drain(sql, exitedAt, options.drainSeconds * 1000);
  for (const child of ctx.children) {
    const failure = child.failure();
    if (failure) throw failure;
  }
  if (!record) return undefined;
  const { metrics } = JSON.parse(await readFile(summaryFile, 'utf8'));
  const first = await sql.query('SELECT min(placed_at_ms)::float8 AS at FROM orders WHERE placed_at_ms >= $1 AND placed_at_ms < $2', [
    spawnedAt,
    exitedAt,
  ]);
  const activeFrom = first.rows[0].at ?? spawnedAt;
  const activeTo = activeFrom + seconds * 1000;
  const { rows: ended } = await sql.query(
    `SELECT placed_at_ms::float8 AS "placedAt", ended_at_ms::float8 AS "endedAt", status, reason FROM orders
     WHERE status <> 'PENDING' AND placed_at_ms >= $1 AND placed_at_ms < $2`,
    [activeFrom, activeTo],
  );
  const sagas = ended.map((row) => ({ ...row, outcome: row.status, latencyMs: row.endedAt - row.placedAt }));
  const { rows: done } = await sql.query(
    `SELECT count(*)::int AS completed FROM orders WHERE status <> 'PENDING' AND ended_at_ms >= $1 AND ended_at_ms < $2`,
    [activeFrom, activeTo],
  );
  const completed = done[0].completed;
  return stepFigures({
    rate,
    seconds,
    metrics,
    sagas,
    completed,
    unfinished,
    errorSamples,
    processes,
    activity: [activityBefore, activityAfter],
    services: ctx.services,
    objectiveMs: options.objectiveMs,
  });
}

/** A few shoppers the load never has: one with no money (payment refused) and an empty product (out of stock). */
async function probes(ctx, seeded) {
  const cases = [
    { expect: 'PAYMENT_REFUSED', customerId: seeded.poorCustomer, productId: seeded.products[0] },
    { expect: 'OUT_OF_STOCK', customerId: seeded.customers[0], productId: seeded.emptyProduct },
  ];
  const results = {};
  for (const probe of cases) {
    const orders = [];
    for (let i = 0; i < PROBES; i++) {
      const cart = await call(ctx.url, 'POST', '/api/carts', { customerId: probe.customerId });
      await call(ctx.url, 'POST', `/api/carts/${cart.id}/items`, { productId: probe.productId, quantity: 2 });
      orders.push((await call(ctx.url, 'POST', `/api/carts/${cart.id}/checkout`)).orderId);
    }
    const ended = await waitFor(
      `the ${probe.expect} probes to end`,
      async () => {
        const { rows } = await ctx.sql.query("SELECT status, reason FROM orders WHERE id = ANY($1) AND status <> 'PENDING'", [orders]);
        return rows.length === orders.length ? rows : undefined;
      },
      60_000,
      100,
    );
    results[probe.expect] = {
      sent: orders.length,
      asExpected: ended.filter((row) => row.status === 'CANCELLED' && row.reason === probe.expect).length,
    };
  }
  return results;
}

/** After the run: stock and money conserved, every order ended, and each outcome backed by exactly its effects. */
async function invariants(sql, probeResults) {
  const one = async (text) => (await sql.query(text)).rows[0];
  const orders = await one(`SELECT count(*)::int AS total,
      count(*) FILTER (WHERE status = 'PENDING')::int AS pending,
      count(*) FILTER (WHERE status = 'COMPLETED')::int AS completed,
      count(*) FILTER (WHERE status = 'CANCELLED' AND reason = 'OUT_OF_STOCK')::int AS "outOfStock",
      count(*) FILTER (WHERE status = 'CANCELLED' AND reason = 'PAYMENT_REFUSED')::int AS "paymentRefused",
      (SELECT count(*)::int FROM carts WHERE status = 'CHECKED_OUT') AS "checkedOutCarts"
    FROM orders`);
  const units = `SELECT (line->>'productId')::uuid AS id, (line->>'quantity')::bigint AS quantity, r.status
                 FROM reservations r, jsonb_array_elements(r.lines) AS line`;
  const stock = await one(`WITH u AS (${units}),
      per AS (SELECT id, sum(quantity) FILTER (WHERE status = 'COMMITTED') AS committed,
                     sum(quantity) FILTER (WHERE status = 'RESERVED') AS reserved FROM u GROUP BY id),
      sold AS (SELECT (line->>'productId')::uuid AS id, sum((line->>'quantity')::bigint) AS quantity
               FROM orders o, jsonb_array_elements(o.lines) AS line WHERE o.status = 'COMPLETED' GROUP BY 1)
    SELECT sum(p.initial_stock)::float8 AS initial, sum(p.stock)::float8 AS "onShelf",
      coalesce(sum(per.committed), 0)::float8 AS committed, coalesce(sum(per.reserved), 0)::float8 AS reserved,
      count(*) FILTER (WHERE p.initial_stock - p.stock <> coalesce(per.committed, 0) + coalesce(per.reserved, 0))::int AS "productsOff",
      count(*) FILTER (WHERE coalesce(per.committed, 0) <> coalesce(sold.quantity, 0))::int AS "productsSoldOff",
      count(*) FILTER (WHERE p.stock < 0)::int AS negative
    FROM products p LEFT JOIN per ON per.id = p.id LEFT JOIN sold ON sold.id = p.id`);
  const money = await one(`WITH paid AS (SELECT customer_id, sum(amount_cents) AS cents FROM payments WHERE status = 'ACCEPTED' GROUP BY 1)
    SELECT sum(c.initial_balance_cents - c.balance_cents)::float8 AS debited,
      (SELECT coalesce(sum(amount_cents), 0)::float8 FROM payments WHERE status = 'ACCEPTED') AS accepted,
      (SELECT coalesce(sum(amount_cents), 0)::float8 FROM sales) AS sales,
      (SELECT coalesce(sum(total_cents), 0)::float8 FROM orders WHERE status = 'COMPLETED') AS "completedOrders",
      count(*) FILTER (WHERE c.initial_balance_cents - c.balance_cents <> coalesce(paid.cents, 0))::int AS "customersOff",
      count(*) FILTER (WHERE c.balance_cents < 0)::int AS negative
    FROM customers c LEFT JOIN paid ON paid.customer_id = c.id`);
  const sagas = await one(`SELECT
      count(*) FILTER (WHERE o.status = 'COMPLETED' AND (r.status IS DISTINCT FROM 'COMMITTED' OR p.status IS DISTINCT FROM 'ACCEPTED'
                       OR s.order_id IS NULL OR p.amount_cents <> o.total_cents OR s.amount_cents <> o.total_cents))::int AS "completedWithoutEffects",
      count(*) FILTER (WHERE o.status = 'CANCELLED' AND (r.status IN ('RESERVED', 'COMMITTED') OR p.status = 'ACCEPTED' OR s.order_id IS NOT NULL))::int AS "cancelledWithEffects"
    FROM orders o LEFT JOIN reservations r ON r.order_id = o.id LEFT JOIN payments p ON p.order_id = o.id LEFT JOIN sales s ON s.order_id = o.id`);
  const checks = {
    everyOrderTerminal: orders.pending === 0 && orders.total === orders.checkedOutCarts,
    stockConserved:
      stock.productsOff === 0 &&
      stock.productsSoldOff === 0 &&
      stock.negative === 0 &&
      stock.reserved === 0 &&
      stock.initial === stock.onShelf + stock.committed,
    moneyConserved:
      money.customersOff === 0 &&
      money.negative === 0 &&
      money.debited === money.accepted &&
      money.accepted === money.sales &&
      money.sales === money.completedOrders,
    outcomesBackedByEffects: sagas.completedWithoutEffects === 0 && sagas.cancelledWithEffects === 0,
    compensation: Object.values(probeResults).every((probe) => probe.asExpected === probe.sent),
  };
  return { passed: Object.values(checks).every(Boolean), ...checks, orders, stock, money, sagas, probes: probeResults };
}

/** Postgres for one peer: fresh, durable (fsync, synchronous commit), pg_stat_statements loaded as for jetsaga. */
async function freshPostgres(name) {
  // A directory of its own under the temp dir: as root, Postgres runs as user postgres, who cannot enter the work dir.
  const dir = await mkdtemp(join(tmpdir(), `jetsaga-bench-pg-${name}-`));
  const postgres = await startPostgres({ dir, ephemeral: true });
  await withClient(postgres.url, (client) => client.query("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"));
  await postgres.restart();
  const pid = () => Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  return { postgres, pid };
}

/** Starts the peer's processes; returns their handles, the shop's URL and which of them are its "services". */
async function startPeer(name, { work, databaseUrl, postgres, tools, say }) {
  const node = process.execPath;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  if (name === 'dbos') {
    const systemDatabaseUrl = await postgres.createDatabase('dbos_system');
    const app = launch('dbos app', node, [join(PEER_DIR, 'dbos', 'app.mjs')], {
      env: { DATABASE_URL: databaseUrl, SYSTEM_DATABASE_URL: systemDatabaseUrl, PORT: String(port) },
      logFile: join(work, 'dbos-app.log'),
    });
    await app.waitForOutput('dbos peer ready', 60_000);
    return { url, children: [app], services: ['dbos app'] };
  }
  const [grpcPort, httpPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const server = launch(
    'temporal server',
    tools.temporal,
    [
      'server',
      'start-dev',
      '--headless',
      '--ip',
      '127.0.0.1',
      '--port',
      String(grpcPort),
      '--http-port',
      String(httpPort),
      '--metrics-port',
      String(metricsPort),
      '--db-filename',
      join(work, 'temporal.sqlite'),
      '--log-level',
      'error',
      // Write-ahead log, still fsynced at every commit (synchronous FULL): as durable as the default rollback
      // journal, which cut the server's rate about in half here (p50 2 s instead of 0.5 s at 10 sagas/s).
      '--sqlite-pragma',
      'journal_mode=wal',
      '--sqlite-pragma',
      'synchronous=FULL',
      // Extra arguments for experiments (`BENCH_TEMPORAL_ARGS`, space-separated); none by default.
      ...(process.env.BENCH_TEMPORAL_ARGS ?? '').split(' ').filter(Boolean),
    ],
    { logFile: join(work, 'temporal-server.log'), cwd: work },
  );
  const children = [server];
  try {
    await waitFor(
      'the Temporal development server to listen',
      async () => {
        const failure = server.failure();
        if (failure) throw failure;
        return listening(grpcPort);
      },
      60_000,
      100,
    );
    const env = { TEMPORAL_ADDRESS: `127.0.0.1:${grpcPort}`, DATABASE_URL: databaseUrl, TASK_QUEUE: 'orders' };
    const worker = launch('temporal worker', node, [join(PEER_DIR, 'temporal', 'worker.mjs')], {
      env,
      logFile: join(work, 'temporal-worker.log'),
    });
    children.push(worker);
    say('temporal: bundling the workflow and starting the worker');
    await worker.waitForOutput('temporal worker ready', 120_000);
    const api = launch('temporal api', node, [join(PEER_DIR, 'temporal', 'api.mjs')], {
      env: { ...env, PORT: String(port) },
      logFile: join(work, 'temporal-api.log'),
    });
    children.push(api);
    await api.waitForOutput('temporal peer ready', 60_000);
    return { url, children, services: ['temporal worker', 'temporal api'] };
  } catch (error) {
    for (const child of children.reverse()) await child.stop();
    throw error;
  }
}

function versionOf(pkg) {
  try {
    return JSON.parse(readFileSync(fileURLToPath(new URL(`../../node_modules/${pkg}/package.json`, import.meta.url)), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

/** One peer, from fresh servers to its checked figures. */
async function runPeer(name, shared) {
  const { options, say } = shared;
  const work = await mkdtemp(join(shared.work, `peer-${name}-`));
  const { postgres, pid: postgresPid } = await freshPostgres(name);
  const cleanups = [() => postgres.stop()];
  try {
    const databaseUrl = await postgres.createDatabase('shop');
    await withClient(databaseUrl, (client) => client.query(`CREATE EXTENSION IF NOT EXISTS pg_stat_statements; ${SCHEMA}`));
    const sql = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    cleanups.push(() => sql.end());
    const seedFile = join(work, 'seed.json');
    const seeded = await seed(sql, options, seedFile);
    say(`${name}: starting the peer on a fresh Postgres${name === 'temporal' ? ' and Temporal development server' : ''}`);
    const peer = await startPeer(name, { work, databaseUrl, postgres, tools: shared.tools, say });
    cleanups.push(async () => {
      for (const child of [...peer.children].reverse()) await child.stop();
    });
    const ctx = {
      name,
      options,
      work,
      sql,
      url: peer.url,
      seedFile,
      k6: shared.tools.k6,
      children: peer.children,
      services: peer.services,
      targets: (k6Pid) => ({
        ...Object.fromEntries(peer.children.map((child) => [child.name, { root: child.pid }])),
        postgres: { root: postgresPid(), tree: true },
        k6: k6Pid ? { root: k6Pid } : undefined,
        'bench driver': { root: process.pid },
      }),
    };
    // Warm-up no faster than the first step: a peer slower than jetsaga would start its first step behind.
    const warmupRate = Math.max(1, Math.min(options.warmupRate, options.peerRates[0] ?? options.warmupRate));
    say(`${name}: warm-up, ${warmupRate}/s for ${options.warmupSeconds} s`);
    await step(ctx, warmupRate, options.warmupSeconds, { record: false });
    const steps = [];
    for (const rate of options.peerRates) {
      say(`${name}: ${rate} shoppers/s for ${options.stepSeconds} s`);
      const result = await step(ctx, rate, options.stepSeconds);
      steps.push(result);
      say(
        `${name}: ${rate}/s offered -> ${result.completedPerSecond}/s completed, saga p50 ${result.latencyMs.p50} ms p99 ${result.latencyMs.p99} ms` +
          `${result.unfinished ? `, ${result.unfinished} unfinished` : ''}${result.errors ? `, ${result.errors} errors` : ''}`,
      );
      if (result.completedPerSecond < 0.5 * rate || result.unfinished > 0.2 * result.sagas) {
        say(`${name}: saturated; higher rates skipped`);
        break;
      }
    }
    // Whatever the last step left running ends before the checks (bounded; what is still open fails them).
    await drain(sql, Date.now(), 120_000);
    say(`${name}: compensation probes and the invariant checks`);
    const checks = await invariants(sql, await probes(ctx, seeded));
    say(
      `${name}: checks ${checks.passed ? 'passed' : 'FAILED'} (${checks.orders.total} orders: ${checks.orders.completed} completed, ` +
        `${checks.orders.outOfStock + checks.orders.paymentRefused} cancelled, ${checks.orders.pending} pending)`,
    );
    const sustained = best(steps, (entry) => entry.sustained);
    const withinObjective = best(steps, (entry) => entry.withinObjective);
    return {
      name,
      engine:
        name === 'dbos'
          ? { name: 'DBOS Transact', package: '@dbos-inc/dbos-sdk', version: versionOf('@dbos-inc/dbos-sdk') }
          : {
              name: 'Temporal',
              package: '@temporalio/worker',
              version: versionOf('@temporalio/worker'),
              server: `Temporal CLI ${shared.tools.temporalVersion ?? 'unknown'} development server, SQLite file in WAL mode`,
            },
      processes: [...peer.children.map((child) => child.name), 'postgres'],
      steps,
      checks,
      summary: {
        highestSustainedRate: sustained?.offeredPerSecond ?? null,
        highestRateWithinObjective: withinObjective?.offeredPerSecond ?? null,
        objectiveP99Ms: options.objectiveMs,
        peakCompletedPerSecond: steps.reduce((top, entry) => Math.max(top, entry.completedPerSecond), 0),
      },
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error) => say(`clean-up: ${error.message}`));
    if (!options.keep) await rm(work, { recursive: true, force: true });
  }
}

const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b !== 0 ? round(a / b, 3) : null);

/**
 * jetsaga / peer: the highest sustained rates, and CPU ms per completed saga of the whole system (every process but
 * k6 and the bench driver) at the highest offered rate both sustained (else the lowest rate both ran).
 */
export function versus(jetsaga, peer) {
  const common = (predicate) =>
    jetsaga.steps
      .filter(predicate)
      .map((entry) => entry.offeredPerSecond)
      .filter((rate) => peer.steps.some((entry) => entry.offeredPerSecond === rate && predicate(entry)));
  const sustainedRates = common((entry) => entry.sustained);
  const ranRates = common((entry) => entry.systemCpuMsPerSaga !== null && entry.systemCpuMsPerSaga !== undefined);
  const rate = sustainedRates.length ? Math.max(...sustainedRates) : ranRates.length ? Math.min(...ranRates) : null;
  const at = (steps) => steps.find((entry) => entry.offeredPerSecond === rate);
  const ours = rate === null ? undefined : at(jetsaga.steps);
  const theirs = rate === null ? undefined : at(peer.steps);
  return {
    sustainedRateJetsagaVsPeer: ratio(jetsaga.summary.highestSustainedRate, peer.summary.highestSustainedRate),
    cpuMsPerSagaJetsagaVsPeer: ratio(ours?.systemCpuMsPerSaga, theirs?.systemCpuMsPerSaga),
    cpuComparedAtOfferedPerSecond: rate,
    cpuComparedAtSustainedRate: sustainedRates.length > 0,
    jetsagaCpuMsPerSaga: ours?.systemCpuMsPerSaga ?? null,
    peerCpuMsPerSaga: theirs?.systemCpuMsPerSaga ?? null,
  };
}

/** Every peer asked for, one after the other; a peer that fails is reported with its error, the others still run. */
export async function runPeers(shared, jetsaga) {
  const results = [];
  for (const name of shared.options.peers) {
    try {
      const result = await runPeer(name, shared);
      result.ratios = versus(jetsaga, result);
      results.push(result);
    } catch (error) {
      shared.say(`${name}: failed: ${error.message.split('\n')[0]}`);
      results.push({ name, error: error.stack ?? String(error) });
    }
  }
  return results;
}
