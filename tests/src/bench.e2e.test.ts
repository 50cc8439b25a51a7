import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureK6, ensureNatsCli, REPO_ROOT } from '@jetsaga/devstack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';

/**
 * `npm run bench -- --quick` keeps working: the real harness (whole system, k6, natscli, both nats-server durability
 * settings, then the DBOS and Temporal peers for one low step each) at low rates, checked for the report it writes.
 * Its figures depend on the machine: only their presence and types are checked, never a speed. The peers' invariant
 * checks (stock and money conserved, every order ended, compensation) are correctness, so they must pass.
 */

let out: string;

function runBench(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'scripts', 'bench.mjs'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, NATS_SERVER_BIN: inject('natsServerBin'), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`bench exited with ${code}:\n${output.slice(-6000)}`))));
  });
}

const number = expect.any(Number);
const latency = { count: number, p50: number, p95: number, p99: number, max: number };

beforeAll(async () => {
  // Built once per machine with Go (about a minute each on a cold cache); cached under ~/.cache/jetsaga/tools.
  const say = (message: string) => console.log(`[bench smoke] ${message}`);
  await ensureK6(say);
  await ensureNatsCli(say);
  // The Temporal peer's server: the Temporal CLI, built with Go once per machine (about 5 min on a cold cache).
  const benchTools = (await import(join(REPO_ROOT, 'packages', 'devstack', 'dist', 'bench-tools.js'))) as {
    ensureTemporalCli(say: (message: string) => void): Promise<string>;
  };
  await benchTools.ensureTemporalCli(say);
  out = await mkdtemp(join(tmpdir(), 'jetsaga-bench-smoke-'));
}, 600_000);

afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

describe('npm run bench -- --quick', () => {
  it('writes the JSON report, its Markdown table and its SVG chart', async () => {
    const output = await runBench(['--quick', '--out', out]);
    expect(output).toContain('results:');

    const report = JSON.parse(await readFile(join(out, 'quick.json'), 'utf8'));
    expect(report).toMatchObject({
      schema: 'jetsaga-bench/1',
      quick: true,
      durationSeconds: number,
      machine: {
        cores: number,
        cpuModel: expect.any(String),
        memoryGb: number,
        loadAverage: [number, number, number],
        node: expect.any(String),
      },
      options: { rates: [10, 20], overloadMultiples: [2, 4], objectiveMs: 50 },
    });
    expect(report.passes.map((pass: { syncAlways: boolean }) => pass.syncAlways)).toEqual([true, false]);
    for (const pass of report.passes) {
      expect(pass.steps.length).toBeGreaterThan(0);
      for (const step of pass.steps) {
        expect(step).toMatchObject({
          offeredPerSecond: number,
          completedPerSecond: number,
          eventsPerSecond: number,
          unfinished: number,
          errors: number,
          rejected: number,
          rejectedAt: { cart: number, item: number, checkout: number },
          latencyMs: latency,
          sustained: expect.any(Boolean),
          withinObjective: expect.any(Boolean),
        });
        // Every service process and both servers were sampled.
        for (const name of ['gateway', 'order', 'inventory', 'payment', 'sales', 'event-store', 'nats-server', 'postgres']) {
          expect(step.processes[name], name).toMatchObject({ cpuPercent: number, peakMemoryMb: number });
        }
      }
      expect(pass.raw).toMatchObject({
        messageBytes: number,
        natscli: { publishPerSecond: number, consumePerSecond: number },
        nodeClient: { publishPerSecond: number, consumePerSecond: number },
      });
      expect(pass.summary).toMatchObject({ peakCompletedPerSecond: number, ratios: { sagaEventsVsRawPublish: number } });
    }
    const [always, relaxed] = report.passes;
    // Past saturation, in the first pass only: steps at 2x and 4x its peak completed rate, after the ramp.
    expect(relaxed.overloadSteps).toEqual([]);
    const peak = always.summary.peakCompletedPerSecond;
    expect(peak).toBeGreaterThan(0);
    expect(always.overloadSteps.map((step: { overloadMultiple: number }) => step.overloadMultiple)).toEqual([2, 4]);
    for (const step of always.overloadSteps) {
      expect(step.offeredPerSecond).toBe(Math.max(1, Math.round(step.overloadMultiple * peak)));
      expect(step).toMatchObject({ completedPerSecond: number, rejected: number, latencyMs: latency, maxServiceRssMb: number });
      expect(step.processes.gateway).toMatchObject({ peakMemoryMb: number });
    }
    expect(always.summary.overload).toEqual(
      [2, 4].map((multiple) =>
        expect.objectContaining({
          multiple,
          offeredPerSecond: number,
          completedPerSecond: number,
          completedVsPeak: number,
          rejectedPerSecond: number,
          p99: number,
          maxRssMb: number,
          bounded: expect.any(Boolean),
        }),
      ),
    );
    expect(always.mirrorCatchUp).toMatchObject({ events: number, seconds: number, perSecond: number });
    expect(always.projectionRebuilds.map((rebuild: { name: string }) => rebuild.name)).toEqual([
      'order-summaries',
      'sales-daily',
      'stock-levels',
      'saga-timelines',
    ]);
    expect(always.raw.postgresInsert).toMatchObject({ rowsPerSecond: number });
    expect(always.summary.ratios.mirrorRowsVsRawInsert).toEqual(number);
    expect(report.durability).toMatchObject({ rawPublishSyncAlwaysVsDefault: number, nodePublishSyncAlwaysVsDefault: number });
    // The objectives, each measured and judged.
    expect(report.objectives).toHaveLength(8);
    for (const objective of report.objectives) {
      expect(objective).toMatchObject({ name: expect.any(String), objective: expect.any(String), met: expect.any(Boolean) });
      expect(objective.measured).toBeDefined();
    }

    // The peers: one low step each on fresh servers, checked, and compared with jetsaga.
    expect(report.options).toMatchObject({ peers: ['dbos', 'temporal'], peerRates: [10] });
    expect(report.peers.map((peer: { name: string }) => peer.name)).toEqual(['dbos', 'temporal']);
    const peerProcesses: Record<string, string[]> = {
      dbos: ['dbos app', 'postgres'],
      temporal: ['temporal server', 'temporal worker', 'temporal api', 'postgres'],
    };
    for (const peer of report.peers) {
      expect(peer.error, peer.name).toBeUndefined();
      expect(peer.engine).toMatchObject({ name: expect.any(String), version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
      expect(peer.steps).toHaveLength(1);
      const [only] = peer.steps;
      expect(only).toMatchObject({
        offeredPerSecond: 10,
        completedPerSecond: number,
        unfinished: number,
        errors: number,
        latencyMs: latency,
        systemCpuMsPerSaga: number,
        serviceCpuMsPerSaga: number,
        sustained: expect.any(Boolean),
        database: { statementsPerSaga: number },
      });
      for (const name of peerProcesses[peer.name] ?? []) {
        expect(only.processes[name], `${peer.name}: ${name}`).toMatchObject({
          cpuPercent: number,
          cpuMsPerSaga: number,
          peakMemoryMb: number,
        });
      }
      expect(peer.checks, peer.name).toMatchObject({
        passed: true,
        everyOrderTerminal: true,
        stockConserved: true,
        moneyConserved: true,
        outcomesBackedByEffects: true,
        compensation: true,
        probes: { PAYMENT_REFUSED: { sent: 3, asExpected: 3 }, OUT_OF_STOCK: { sent: 3, asExpected: 3 } },
      });
      expect(peer.checks.orders.completed).toBeGreaterThan(0);
      expect(peer.summary).toMatchObject({ peakCompletedPerSecond: number });
      expect(peer.ratios).toHaveProperty('sustainedRateJetsagaVsPeer');
      expect(peer.ratios).toMatchObject({ cpuMsPerSagaJetsagaVsPeer: number, cpuComparedAtOfferedPerSecond: 10 });
    }

    const table = await readFile(join(out, 'quick.md'), 'utf8');
    expect(table).toContain('| offered/s | completed/s |');
    expect(table).toContain('| multiple | offered/s | completed/s | vs peak |');
    expect(table).toContain('## Objectives');
    expect(table).toContain('## Cost of durability');
    expect(table).toContain('## Peers: the same saga on DBOS Transact and on Temporal');
    expect(table).toContain('jetsaga / DBOS Transact: highest sustained rate');
    expect(table).toContain('jetsaga / Temporal: highest sustained rate');
    const chart = await readFile(join(out, 'quick.svg'), 'utf8');
    expect(chart).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(chart).toContain('<polyline');
  }, 600_000);
});
