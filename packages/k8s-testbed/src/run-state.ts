import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostRecord } from './host-safety.js';

export type ProcessRecord = { name: string; pid: number; bin: string };

/** Written before the first change to the host: a later run reads it to clean up after one that was killed. */
export type RunState = { record: HostRecord; processes: ProcessRecord[]; kubeProxy: string; containerdSocket: string };

function statePath(workDir: string): string {
  return join(workDir, 'state.json');
}

export async function readState(workDir: string): Promise<RunState | undefined> {
  try {
    return JSON.parse(await readFile(statePath(workDir), 'utf8')) as RunState;
  } catch {
    return undefined;
  }
}

/** Replaces the state file atomically: a run killed mid-write leaves the previous state, never half of one. */
export async function saveState(workDir: string, state: RunState): Promise<void> {
  const path = statePath(workDir);
  await writeFile(`${path}.tmp`, JSON.stringify(state, null, 2));
  await rename(`${path}.tmp`, path);
}
