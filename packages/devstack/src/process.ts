import type { ChildProcess } from 'node:child_process';

/** Sends `signal` to a child that still runs and waits for it to exit; a child that already exited is left alone. */
export async function terminate(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}
