import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, waitFor } from '@jetsaga/devstack';
import { DEADLINES_STREAM, EVENTS_STREAM } from '@jetsaga/events';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Invariant } from './faults/invariants.js';
import { recordFaultRun } from './faults/record.js';
import type { Api, Order } from './support/api.js';
import { startTestSystem, type TestSystem, waitForConsumerIdle } from './support/harness.js';
import { adminToken } from './support/tokens.js';

/**
 * `npm run report` against the real system: sagas of every outcome are run first (two completed ones, so that "the
 * latest" is tested), then the report is written and read back. What it must show is read from the same system's
 * API and from the repository, never written into the test.
 */

let t: TestSystem;
let api: Api;
let out: string;
let markdown: string;
let html: string;
let printed: string;
/** Each outcome's sagas in the order they ran: the report must draw the last one. */
const sagas = new Map<string, Order[]>();

const outcomeOf = (order: Order) => (order.status === 'CANCELLED' ? `CANCELLED (${order.reason})` : order.status);

async function run(what: () => Promise<string>, timeoutMs?: number): Promise<Order> {
  const order = await api.terminal(await what(), timeoutMs);
  sagas.set(outcomeOf(order), [...(sagas.get(outcomeOf(order)) ?? []), order]);
  return order;
}

async function report(args: string[], faultRecord: string): Promise<string> {
  // The report reads operations views: it is given the suite's admin token, as a user gives it theirs.
  const token = await adminToken();
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, JETSAGA_FAULT_RECORD: faultRecord, JETSAGA_TOKEN: token };
    delete env.GATEWAY_URL;
    const child = spawn(process.execPath, [join(REPO_ROOT, 'scripts', 'report.mjs'), ...args], { cwd: REPO_ROOT, env, stdio: 'pipe' });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`report exited with ${code}:\n${output}`))));
  });
}

/** Everything the sagas caused has been handled, mirrored and projected: nothing more will happen to them. */
async function settled(): Promise<void> {
  const jsm = await jetstreamManager(t.nc);
  for (const stream of [EVENTS_STREAM, DEADLINES_STREAM]) {
    for await (const consumer of jsm.consumers.list(stream)) await waitForConsumerIdle(t.nc, stream, consumer.name);
  }
  await waitFor('the mirror and every projection to catch up', async () => {
    const { body } = await api.call('GET', '/api/event-store/status');
    return body.mirror.lag === 0 && body.projections.every((projection: { lag: number }) => projection.lag === 0);
  });
}

/** The part of the Markdown under one heading of `level`, up to the next heading of that level or above. */
function section(text: string, heading: string, level = 3): string {
  const marker = `\n${'#'.repeat(level)} ${heading}\n`;
  const start = text.indexOf(marker);
  if (start < 0) return '';
  const rest = text.slice(start + marker.length);
  const end = rest.search(new RegExp(`\n#{1,${level}} `));
  return marker + (end < 0 ? rest : rest.slice(0, end));
}

beforeAll(async () => {
  // A deadline short enough to let one pass while payment is frozen, long enough for the other sagas to finish.
  t = await startTestSystem({ SAGA_DEADLINE_MS: '6000' });
  api = t.api;
  const rich = await api.customer(1_000_000);
  const poor = await api.customer(100);
  const lamp = await api.product(20, 1_500);
  const scarce = await api.product(1, 700);

  await run(() => api.buy(rich.id, lamp.id, 1));
  await run(() => api.buy(rich.id, scarce.id, 2));
  await run(() => api.buy(poor.id, lamp.id, 1));
  // The cart needs payment (the customer look-up), the checkout does not: payment freezes between the two.
  const late = await api.cart(rich.id);
  await api.addItem(late.id, lamp.id, 1);
  t.system.supervisor.signal('payment', 'SIGSTOP');
  try {
    await run(() => api.checkout(late.id), 30_000);
  } finally {
    t.system.supervisor.signal('payment', 'SIGCONT');
  }
  await run(() => api.buy(rich.id, lamp.id, 2));
  await settled();

  out = await mkdtemp(join(tmpdir(), 'jetsaga-report-'));
  printed = await report(['--gateway', t.system.gatewayUrl, '--out', out], join(out, 'no-fault-run.json'));
  markdown = await readFile(join(out, 'report.md'), 'utf8');
  html = await readFile(join(out, 'report.html'), 'utf8');
});

afterAll(async () => {
  t?.system.supervisor.signal('payment', 'SIGCONT');
  await t?.stop();
  if (out) await rm(out, { recursive: true, force: true });
});

describe('npm run report', () => {
  it('ran a saga of every outcome first', () => {
    expect([...sagas.keys()].sort()).toEqual([
      'CANCELLED (DEADLINE_EXCEEDED)',
      'CANCELLED (OUT_OF_STOCK)',
      'CANCELLED (PAYMENT_REFUSED)',
      'COMPLETED',
    ]);
  });

  it('prints where it wrote the Markdown and the HTML', () => {
    expect(printed).toContain(join(out, 'report.md'));
    expect(printed).toContain(join(out, 'report.html'));
  });

  it('has its sections in Markdown and in HTML', () => {
    for (const heading of ['Scenario', 'Sagas', 'Latest benchmark', 'Fault run', 'Architecture decisions']) {
      expect(markdown).toContain(`\n## ${heading}\n`);
      expect(html).toMatch(new RegExp(`<h2 id="[a-z-]+">${heading}</h2>`));
    }
  });

  it('counts the sagas of each outcome as the system does', async () => {
    for (const [outcome, orders] of sagas) expect(markdown).toContain(`| ${outcome} | ${orders.length} |`);
  });

  it('draws the latest saga of each outcome from its real events', async () => {
    for (const [outcome, orders] of sagas) {
      const latest = orders[orders.length - 1] as Order;
      const part = section(markdown, outcome);
      expect(part, outcome).toContain(latest.correlationId);
      for (const earlier of orders.slice(0, -1)) expect(markdown).not.toContain(earlier.correlationId);

      const { body } = await api.call('GET', `/api/events?correlationId=${latest.correlationId}&limit=1000`);
      const events: Array<{ id: string; type: string }> = body.events;
      expect(events.length).toBeGreaterThan(3);
      const diagram = /```mermaid\n([\s\S]*?)\n```/.exec(part)?.[1] ?? '';
      expect(diagram.startsWith('sequenceDiagram')).toBe(true);
      const arrows = diagram.split('\n').filter((line) => line.includes('->>'));
      // One arrow per event, in stream order, each named by its event type.
      expect(arrows.map((line) => /: (\w+) \(/.exec(line)?.[1])).toEqual(events.map((event) => event.type));
      for (const event of events) {
        expect(part).toContain(event.id);
        expect(html).toContain(`. ${event.type} (`);
      }
    }
  });

  it('embeds the latest benchmark table and chart', async () => {
    const bench = await readFile(join(REPO_ROOT, 'bench', 'results', 'latest.md'), 'utf8');
    const rows = bench.split('\n').filter((line) => line.startsWith('| '));
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(markdown).toContain(row);
    const svg = await readFile(join(REPO_ROOT, 'bench', 'results', 'latest.svg'), 'utf8');
    const chartTexts = [...svg.matchAll(/<text[^>]*>([^<]+)<\/text>/g)].map((match) => match[1] as string);
    expect(chartTexts.length).toBeGreaterThan(0);
    for (const text of chartTexts) expect(html).toContain(`>${text}</text>`);
  });

  it('says that no fault run was recorded when there is no record', () => {
    expect(section(markdown, 'Fault run', 2)).toMatch(/no fault run recorded/i);
  });

  it("shows the last fault run's invariants, failed ones as FAIL, when the fault suite left a record", async () => {
    const invariants: Invariant[] = [
      { name: 'every order is COMPLETED or CANCELLED', ok: true, detail: '40 orders, 30 completed, 10 cancelled', offending: [] },
      { name: 'money is conserved', ok: false, detail: 'opened 1000 cents, found 990', offending: ['customer x: -10'] },
    ];
    const record = await recordFaultRun(
      {
        options: { sagas: 40, seed: 7, cluster: false, windowMs: 1000, handlerErrorRate: 0 },
        faults: { kills: { order: 2 }, natsRestarts: 1, postgresRestarts: 1, poison: 1, injectedHandlerErrors: 3 },
        outcomes: { COMPLETED: 30, 'CANCELLED (OUT_OF_STOCK)': 10 },
        invariants,
        durationMs: 12_000,
      },
      join(out, 'faults', 'latest.json'),
    );
    const withRun = join(out, 'with-fault-run');
    await report(['--gateway', t.system.gatewayUrl, '--out', withRun], record);
    const faults = section(await readFile(join(withRun, 'report.md'), 'utf8'), 'Fault run', 2);
    expect(faults).not.toMatch(/no fault run recorded/i);
    expect(faults).toContain('40 sagas (seed 7)');
    for (const invariant of invariants) {
      expect(faults).toContain(`| ${invariant.name} | ${invariant.ok ? 'PASS' : 'FAIL'} | ${invariant.detail} |`);
    }
  });

  it('lists every ADR', async () => {
    const adrs = (await readdir(join(REPO_ROOT, 'docs', 'adr'))).filter((name) => /^\d{4}-.*\.md$/.test(name));
    expect(adrs.length).toBeGreaterThan(0);
    for (const adr of adrs) {
      expect(markdown).toContain(adr);
      expect(html).toContain(adr);
    }
  });

  it('writes HTML that loads nothing: no script, no stylesheet link, no remote source', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|src=|url\(\s*['"]?https?:/i);
  });
});
