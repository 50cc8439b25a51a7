import { readFile, writeFile } from 'node:fs/promises';

/**
 * Fault injection for the crash test (MIRROR_FAULT_PAUSE_FILE): the first batch reaching past the position in a file
 * that says `arm <position>` rewrites it to `paused <first>-<last>` and waits there, inside its transaction, to be
 * killed -9. One-shot: the restarted process finds `paused` and carries on.
 */
export function pauseWhenArmed(file: string): (batch: { first: number; last: number }) => Promise<void> {
  return async ({ first, last }) => {
    const armed = /^arm (\d+)$/.exec((await readFile(file, 'utf8').catch(() => '')).trim());
    if (!armed || last <= Number(armed[1])) return;
    await writeFile(file, `paused ${first}-${last}\n`);
    await new Promise(() => undefined);
  };
}
