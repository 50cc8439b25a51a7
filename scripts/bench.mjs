#!/usr/bin/env node
// `npm run bench`: saga throughput and latency of the whole system on this machine, beside what its nats-server and
// Postgres can do on their own. Writes <out>/<name>.json, .md and .svg. See bench/README.md.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import {
  ensureK6,
  ensureMailpit,
  ensureNatsCli,
  ensureNatsServer,
  ensureTemporalCli,
  TEMPORAL_CLI_VERSION,
} from '../packages/devstack/dist/index.js';
import { PEERS } from '../bench/lib/peers.mjs';
import { runBench } from '../bench/lib/harness.mjs';
import { markdown, svg } from '../bench/lib/report.mjs';
import { syncAll } from './docs-sync.mjs';

const HELP = `usage: npm run bench [-- options]

  --quick                 the same harness at low rates, in well under two minutes (writes quick.*)
  --rates LIST            shoppers per second, one step each (default 25,50,100,150,200,300,400,600,800,1000;
                          --quick: 10,20); stepping stops at the first saturated step
  --overload LIST         then steps at these multiples of the peak completed rate, to show whether the
                          system holds its peak past saturation (default 2,4); --no-overload skips them
  --step-seconds N        length of each step (default 15; --quick 5)
  --warmup-seconds N      unrecorded warm-up before the first step (default 5; --quick 3)
  --customers N           customers seeded (default 500; --quick 20)
  --products N            products seeded: fewer means more contention on stock rows (default 50; --quick 5)
  --objective-ms N        saga p99 objective (default 50)
  --raw-messages N        messages per raw JetStream measurement (default 200000; --quick 10000)
  --raw-rows N            rows for the raw Postgres insert (default 200000; --quick 10000)
  --no-sync-compare       skip the second pass with nats-server's default sync_interval
  --peers LIST            the same saga on other engines after jetsaga's passes, on fresh servers, same load
                          (default dbos,temporal; --quick: one low step each, shape only)
  --no-peers              jetsaga only
  --peer-rates LIST       the peers' steps (default: --rates, after a first step of 10/s when --rates starts
                          higher, so a peer slower than jetsaga's first step still has a sustained rate)
  --sse-streams N         hold N open event streams (GET /api/stream/events, every new event, one agent token
                          each) through every pass, read by a process of their own (not counted as the system)
  --profile               run the services under node --cpu-prof during the first pass; summary in the
                          report, .cpuprofile files (flame graphs in Chrome DevTools or speedscope) in <out>/profiles
  --out DIR               where results go (default bench/results)
  --name NAME             file name of the results (default latest; --quick: quick)
  --keep                  keep the work directory (server data and service logs)
  --render FILE           only write the Markdown and SVG again from a results JSON (next to it)

Environment: LOG_LEVEL (default info, as npm start) and OTEL_* (tracing as configured) reach the services.
`;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rates: { type: 'string' },
    overload: { type: 'string' },
    'no-overload': { type: 'boolean', default: false },
    'step-seconds': { type: 'string' },
    'warmup-seconds': { type: 'string' },
    customers: { type: 'string' },
    products: { type: 'string' },
    'objective-ms': { type: 'string' },
    'raw-messages': { type: 'string' },
    'raw-rows': { type: 'string' },
    'no-sync-compare': { type: 'boolean', default: false },
    peers: { type: 'string' },
    'no-peers': { type: 'boolean', default: false },
    'peer-rates': { type: 'string' },
    'sse-streams': { type: 'string' },
    profile: { type: 'boolean', default: false },
    out: { type: 'string' },
    name: { type: 'string' },
    keep: { type: 'boolean', default: false },
    render: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}

function positive(name, fallback) {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`--${name} must be a positive number, got ${raw}`);
    process.exit(2);
  }
  return value;
}

if (values.render) {
  const report = JSON.parse(await readFile(values.render, 'utf8'));
  const base = values.render.replace(/\.json$/, '');
  await writeFile(`${base}.md`, markdown(report));
  await writeFile(`${base}.svg`, svg(report));
  console.log(`[bench] wrote ${base}.md and ${base}.svg`);
  process.exit(0);
}

const quick = values.quick;
const rateList = (name) =>
  values[name].split(',').map((rate) => {
    const value = Number(rate);
    if (!Number.isInteger(value) || value <= 0) {
      console.error(`--${name} takes positive whole numbers, got ${rate}`);
      process.exit(2);
    }
    return value;
  });
const rates = values.rates ? rateList('rates') : quick ? [10, 20] : [25, 50, 100, 150, 200, 300, 400, 600, 800, 1000];
const overloadMultiples = values['no-overload']
  ? []
  : (values.overload ?? '2,4').split(',').map((entry) => {
      const value = Number(entry);
      if (!Number.isFinite(value) || value <= 1) {
        console.error(`--overload takes multiples above 1, got ${entry}`);
        process.exit(2);
      }
      return value;
    });
const say = (message) => console.log(`[bench] ${message}`);
const out = values.out ?? fileURLToPath(new URL('../bench/results', import.meta.url));
const name = values.name ?? (quick ? 'quick' : 'latest');

const peers = values['no-peers'] ? [] : (values.peers ?? PEERS.join(',')).split(',').filter(Boolean);
for (const peer of peers) {
  if (!PEERS.includes(peer)) {
    console.error(`--peers takes ${PEERS.join(', ')}, got ${peer}`);
    process.exit(2);
  }
}

const natsBin = await ensureNatsServer(say);
const tools = { natsBin, k6: await ensureK6(say), natsCli: await ensureNatsCli(say), mailpitBin: await ensureMailpit(say) };
if (peers.includes('temporal')) {
  tools.temporal = await ensureTemporalCli(say);
  tools.temporalVersion = /(\d+\.\d+\.\d+)/.exec(execFileSync(tools.temporal, ['--version']).toString())?.[1] ?? TEMPORAL_CLI_VERSION;
}
const natsServerVersion = /v?(\d+\.\d+\.\d+)/.exec(execFileSync(natsBin, ['--version']).toString())?.[1] ?? 'unknown';

const options = {
  quick,
  rates,
  overloadMultiples,
  stepSeconds: positive('step-seconds', quick ? 5 : 15),
  warmupSeconds: positive('warmup-seconds', quick ? 3 : 5),
  warmupRate: Math.max(5, Math.min(rates[0] ?? 10, 25)),
  drainSeconds: quick ? 10 : 20,
  customers: positive('customers', quick ? 20 : 500),
  products: positive('products', quick ? 5 : 50),
  objectiveMs: positive('objective-ms', 50),
  rawMessages: positive('raw-messages', quick ? 10_000 : 200_000),
  rawRows: positive('raw-rows', quick ? 10_000 : 200_000),
  maxVus: 1000,
  compareSync: !values['no-sync-compare'],
  peers,
  // The quick form runs each peer for one low step (shape only); the full one steps them like jetsaga, from 10/s.
  peerRates: values['peer-rates'] ? rateList('peer-rates') : quick ? rates.slice(0, 1) : rates[0] > 10 ? [10, ...rates] : rates,
  sseStreams: values['sse-streams'] === undefined ? 0 : positive('sse-streams', 0),
  profile: values.profile,
  keep: values.keep,
  profileKeepDir: join(out, 'profiles'),
  natsServerVersion,
  tools,
};

function git(args) {
  try {
    return execFileSync('git', args, { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return undefined;
  }
}

const report = await runBench(options, say);
// Which code was measured: the commit, and whether the working tree had changes on top of it.
report.code = {
  commit: git(['rev-parse', '--short', 'HEAD']) ?? 'unknown',
  changed: Boolean(git(['status', '--porcelain', '--untracked-files=no'])),
};
await mkdir(out, { recursive: true });
await writeFile(join(out, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
const table = markdown(report);
await writeFile(join(out, `${name}.md`), table);
await writeFile(join(out, `${name}.svg`), svg(report));
console.log(`\n${table}`);
say(`results: ${join(out, `${name}.json`)}, .md and .svg (${report.durationSeconds} s)`);
// The docs quote the repository's latest run (scripts/docs-sync.mjs): a new one rewrites their generated parts.
const latest = fileURLToPath(new URL('../bench/results/latest.json', import.meta.url));
if (join(out, `${name}.json`) === latest) {
  for (const doc of await syncAll({ write: true })) if (!doc.inSync) say(`${doc.doc}: figures regenerated from this run`);
}
