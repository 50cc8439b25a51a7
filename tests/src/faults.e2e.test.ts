import { describe, expect, it } from 'vitest';
import { formatTable } from './faults/invariants.js';
import { recordFaultRun } from './faults/record.js';
import { runFaultSuite } from './faults/suite.js';

/**
 * The short form runs in `npm test`; `npm run test:faults` runs the long form (FAULTS_SAGAS, FAULTS_SEED,
 * FAULTS_CLUSTER=1, FAULTS_WINDOW_MS to change it).
 */
const options = {
  sagas: Number(process.env.FAULTS_SAGAS ?? 500),
  seed: Number(process.env.FAULTS_SEED ?? 20261121),
  cluster: process.env.FAULTS_CLUSTER === '1',
  windowMs: Number(process.env.FAULTS_WINDOW_MS ?? 25_000),
  handlerErrorRate: Number(process.env.FAULTS_HANDLER_ERROR_RATE ?? 0.02),
};

describe(`fault injection (${options.sagas} sagas, seed ${options.seed}${options.cluster ? ', 3-node NATS' : ''})`, () => {
  it('keeps every invariant while processes are killed and servers restart', async () => {
    const report = await runFaultSuite({ ...options, log: (line) => console.log(`[faults] ${line}`) });
    console.log(
      `[faults] seed ${options.seed}: ${options.sagas} sagas in ${Math.round(report.durationMs / 1000)} s; outcomes ${JSON.stringify(report.outcomes)}\n` +
        `[faults] support: ${JSON.stringify(report.support)}\n` +
        `[faults] injected: ${JSON.stringify(report.faults)}\n` +
        `[faults] emails: ${JSON.stringify(report.emails)}; audit: ${JSON.stringify(report.audit)}\n${formatTable(report.invariants)}`,
    );
    // Kept for `npm run report`, passed or not: a failed run is the one most worth reading.
    console.log(`[faults] recorded in ${await recordFaultRun(report)}`);
    const failed = report.invariants.filter((invariant) => !invariant.ok);
    expect(failed, `seed ${options.seed}: ${failed.map((f) => `${f.name}: ${f.offending.join('; ')}`).join(' | ')}`).toEqual([]);
    expect(report.loadErrors, 'the parcel and complaint load ran to its end').toEqual([]);
    expect(Object.values(report.faults.kills).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(report.faults.natsRestarts + report.faults.postgresRestarts).toBe(2);
  }, 600_000);
});
