import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cacheDir } from '@jetsaga/devstack';
import type { FaultReport } from './suite.js';

/**
 * Where the last fault run is kept for `npm run report` (scripts/report.mjs reads the same path):
 * JETSAGA_FAULT_RECORD, else `<cache>/faults/latest.json`.
 */
export function faultRecordPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.JETSAGA_FAULT_RECORD ?? join(cacheDir(), 'faults', 'latest.json');
}

/** Keeps a fault run's options, injected faults, outcomes and invariants, with when it ended. */
export async function recordFaultRun(report: FaultReport, path = faultRecordPath()): Promise<string> {
  const { log: _log, ...options } = report.options;
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify({ endedAt: new Date().toISOString(), ...report, options }, null, 2)}\n`);
  return path;
}
