import { existsSync } from 'node:fs';
import { readdir, readFile, readlink, realpath, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Say, waitFor } from '@jetsaga/devstack';
import {
  CLUSTER_NETWORK,
  killPodProcesses,
  removeClusterCgroups,
  removeHostPaths,
  restoreSysctls,
  tearDownHostNetwork,
  unmountUnder,
} from './host-safety.js';
import { CLUSTER_WORK_DIR, CNI_NETWORK } from './layout.js';
import { type ProcessRecord, readState } from './run-state.js';

async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Field 3 is the state; a zombie has exited and only waits to be reaped.
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

/** True when `pid` still runs `bin` (a recorded pid may have been reused by now). */
async function runs(pid: number, bin: string): Promise<boolean> {
  const exe = await readlink(`/proc/${pid}/exe`).catch(() => '');
  const wanted = await realpath(bin).catch(() => bin);
  return exe === wanted || exe === `${wanted} (deleted)`;
}

async function stopProcess(entry: ProcessRecord, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (!(await alive(entry.pid)) || !(await runs(entry.pid, entry.bin))) return;
  try {
    process.kill(entry.pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!(await alive(entry.pid))) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  try {
    process.kill(entry.pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitFor(`${entry.name} (pid ${entry.pid}) to exit`, async () => !(await alive(entry.pid)), 10_000, 100);
}

/** containerd's shims re-parent themselves; they are found by the socket address of this run's containerd. */
async function shimPids(containerdSocket: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (cmdline[0]?.includes('containerd-shim') && cmdline.includes(containerdSocket)) pids.push(Number(entry));
  }
  return pids;
}

/**
 * Stops the cluster and puts the host back as it was, from the state file of `workDir`: idempotent, so it serves both
 * the end of a run (also after a failure or Ctrl-C) and the start of the next one when a run was killed outright.
 * Order: the kubelet (so nothing restarts pods), every pod process, the shims, containerd, kube-proxy and the control
 * plane; then mounts, cgroups, network, iptables, kernel settings, host paths, the work directory.
 */
export async function tearDownCluster(options: { workDir?: string; say?: Say } = {}): Promise<void> {
  const workDir = options.workDir ?? CLUSTER_WORK_DIR;
  const say = options.say ?? (() => undefined);
  const state = await readState(workDir);
  if (!state && !existsSync(workDir) && !existsSync(join('/sys/class/net', CLUSTER_NETWORK.nodeLink))) return;
  say(`tearing down the cluster in ${workDir}`);
  const byName = (name: string) => state?.processes.filter((entry) => entry.name === name) ?? [];
  for (const entry of byName('kubelet')) await stopProcess(entry, 'SIGTERM', 10_000);
  // Without the record, pods' cgroups cannot be told from another runtime's: only named things are cleaned up then.
  if (state) {
    await killPodProcesses(state.record);
    for (const pid of await shimPids(state.containerdSocket)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
  }
  for (const entry of byName('containerd')) await stopProcess(entry, 'SIGTERM', 10_000);
  for (const entry of byName('kube-proxy')) await stopProcess(entry, 'SIGTERM', 5_000);
  for (const name of ['kube-scheduler', 'kube-controller-manager', 'kube-apiserver']) {
    // With port-forward streams open, a SIGTERMed API server waits for them: nothing here needs a graceful stop.
    for (const entry of byName(name)) await stopProcess(entry, 'SIGKILL', 5_000);
  }
  for (const entry of byName('etcd')) await stopProcess(entry, 'SIGTERM', 10_000);
  for (const entry of state?.processes ?? []) await stopProcess(entry, 'SIGKILL', 5_000);

  await unmountUnder(workDir);
  if (state) await removeClusterCgroups(state.record);
  await tearDownHostNetwork(state?.kubeProxy, { kubernetesChains: state !== undefined });
  if (state) {
    await restoreSysctls(state.record);
    await removeHostPaths(state.record, CNI_NETWORK);
  }
  await rm(workDir, { recursive: true, force: true });
  say('cluster torn down');
}
