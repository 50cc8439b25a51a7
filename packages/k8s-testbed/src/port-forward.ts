import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { connect } from 'node:net';
import { freePort, type Say, terminate, waitFor } from '@jetsaga/devstack';

export type PortForwardOptions = {
  kubectl: string;
  kubeconfig: string;
  namespace: string;
  /** `svc/<name>` or `pod/<name>`. */
  target: string;
  remotePort: number;
  /** Appended to with kubectl's output. */
  log: string;
  say?: Say;
};

export type PortForward = {
  /** The loopback port that reaches the target. */
  port: number;
  /** How many times kubectl was (re)started. */
  starts(): number;
  stop(): Promise<void>;
};

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * `kubectl port-forward` on 127.0.0.1, kept alive: kubectl exits when the pod behind it goes (the pod-loss test deletes
 * pods) or the kubelet restarts, and is started again on the same local port after a short pause, until stop().
 */
export async function startPortForward(options: PortForwardOptions): Promise<PortForward> {
  const port = await freePort();
  const log = createWriteStream(options.log, { flags: 'a' });
  let stopped = false;
  let current: ChildProcess | undefined;
  let count = 0;
  let restartTimer: NodeJS.Timeout | undefined;

  const launch = () => {
    count++;
    const child = spawn(
      options.kubectl,
      ['-n', options.namespace, 'port-forward', '--address', '127.0.0.1', options.target, `${port}:${options.remotePort}`],
      { env: { ...process.env, KUBECONFIG: options.kubeconfig }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.once('exit', (code, signal) => {
      if (current === child) current = undefined;
      if (stopped) return;
      log.write(`[port-forward] kubectl exited (${signal ?? code}); starting again\n`);
      restartTimer = setTimeout(launch, 500);
    });
    current = child;
  };

  launch();
  await waitFor(`port-forward ${options.target} ${port}:${options.remotePort}`, () => accepts(port), 60_000, 200);
  options.say?.(`port-forward ${options.namespace}/${options.target}:${options.remotePort} -> 127.0.0.1:${port}`);
  return {
    port,
    starts: () => count,
    async stop() {
      stopped = true;
      if (restartTimer) clearTimeout(restartTimer);
      await terminate(current, 'SIGTERM');
      log.end();
    },
  };
}
