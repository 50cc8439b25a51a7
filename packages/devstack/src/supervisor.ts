import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

export type ProcessSpec = {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
};

export type SupervisorEvent =
  | { kind: 'started'; name: string; pid: number | undefined; restarts: number }
  | { kind: 'exited'; name: string; code: number | null; signal: NodeJS.Signals | null; restartInMs: number | undefined };

export type SupervisorOptions = {
  /** Where each process's output goes: a line callback (npm start prints it prefixed) or a log file per process. */
  output: { kind: 'lines'; onLine: (name: string, line: string) => void } | { kind: 'files'; pathFor: (name: string) => string };
  onEvent?: (event: SupervisorEvent) => void;
  /** Restart back-off: starts here, doubles per quick crash, capped at maxBackoffMs (like a kubelet's CrashLoopBackOff). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
};

type Managed = {
  spec: ProcessSpec;
  child?: ChildProcess;
  restarts: number;
  backoffMs: number;
  startedAt: number;
  timer?: NodeJS.Timeout;
  file?: WriteStream;
  exited?: Promise<void>;
};

/**
 * Runs each service as its own process and restarts one that exits or is killed, with back-off. Stopping sends
 * SIGTERM (graceful drain) and SIGKILL to whatever has not exited after the grace period.
 */
export class Supervisor {
  private readonly managed = new Map<string, Managed>();
  private stopping = false;

  constructor(private readonly options: SupervisorOptions) {}

  add(spec: ProcessSpec): void {
    const initial = this.options.initialBackoffMs ?? 250;
    this.managed.set(spec.name, { spec, restarts: 0, backoffMs: initial, startedAt: 0 });
    this.launch(spec.name);
  }

  names(): string[] {
    return [...this.managed.keys()];
  }

  pid(name: string): number | undefined {
    return this.managed.get(name)?.child?.pid;
  }

  restarts(name: string): number {
    return this.managed.get(name)?.restarts ?? 0;
  }

  /** Sends a signal to one process (fault injection: SIGKILL); the supervisor restarts it. */
  signal(name: string, signal: NodeJS.Signals): void {
    this.managed.get(name)?.child?.kill(signal);
  }

  private launch(name: string): void {
    const entry = this.managed.get(name);
    if (!entry || this.stopping) return;
    const { spec } = entry;
    const child = spawn(spec.command, spec.args, {
      env: { ...spec.env, JETSAGA_PARENT_PID: String(process.pid) },
      cwd: spec.cwd,
      // Its own process group: a terminal's Ctrl-C reaches the supervisor, which stops services in order.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    entry.child = child;
    entry.startedAt = Date.now();
    const output = this.options.output;
    if (output.kind === 'files') {
      entry.file ??= createWriteStream(output.pathFor(name), { flags: 'a' });
      child.stdout?.pipe(entry.file, { end: false });
      child.stderr?.pipe(entry.file, { end: false });
    } else {
      for (const stream of [child.stdout, child.stderr]) {
        if (stream) createInterface({ input: stream }).on('line', (line) => output.onLine(name, line));
      }
    }
    this.options.onEvent?.({ kind: 'started', name, pid: child.pid, restarts: entry.restarts });
    entry.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        resolve();
        if (this.stopping) {
          this.options.onEvent?.({ kind: 'exited', name, code, signal, restartInMs: undefined });
          return;
        }
        const ranFor = Date.now() - entry.startedAt;
        const initial = this.options.initialBackoffMs ?? 250;
        entry.backoffMs = ranFor > 30_000 ? initial : Math.min(entry.backoffMs * 2, this.options.maxBackoffMs ?? 10_000);
        const delay = ranFor > 30_000 ? initial : entry.backoffMs;
        this.options.onEvent?.({ kind: 'exited', name, code, signal, restartInMs: delay });
        entry.timer = setTimeout(() => {
          entry.restarts += 1;
          this.launch(name);
        }, delay);
      });
    });
  }

  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    const waits = [...this.managed.values()].map(async (entry) => {
      clearTimeout(entry.timer);
      const child = entry.child;
      if (child && child.exitCode === null && child.signalCode === null) {
        const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
        child.kill('SIGTERM');
        await entry.exited;
        clearTimeout(kill);
      }
      entry.file?.end();
    });
    await Promise.all(waits);
  }
}
