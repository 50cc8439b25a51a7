import { spawn } from 'node:child_process';
import { chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Say } from '@jetsaga/devstack';
import {
  type Kubectl,
  Launcher,
  startContainerd,
  startControlPlane,
  startCoreDns,
  startEtcd,
  startKubelet,
  startKubeProxy,
} from './components.js';
import {
  CLUSTER_NETWORK,
  firstForwardRule,
  foreignKubernetesChains,
  GUARD_CHAIN,
  installGuard,
  recordHost,
  setUpHostNetwork,
} from './host-safety.js';
import { CLUSTER_LOG_DIR, CLUSTER_WORK_DIR } from './layout.js';
import { createClusterPki } from './pki.js';
import { type RunState, saveState } from './run-state.js';
import { tearDownCluster } from './teardown.js';
import type { ClusterBinaries } from './tools.js';

export type { Kubectl } from './components.js';

export type ClusterOptions = {
  binaries: ClusterBinaries;
  /** docker-archive files for `ctr images import` (every image the pods use, the pause image among them). */
  imageArchives: string[];
  pauseImage: string;
  corednsImage: string;
  say?: Say;
  workDir?: string;
  logDir?: string;
  /** Aborts the start (Ctrl-C): nothing more is launched, waits fail at once, what runs is torn down. */
  signal?: AbortSignal;
};

export type Cluster = {
  /** Admin kubeconfig (system:masters token) for kubectl and helm. */
  kubeconfig: string;
  kubectl: Kubectl;
  workDir: string;
  logDir: string;
  /** Where each component logs: `<logDir>/<component>.log`. */
  logOf(component: string): string;
  /** The guard chain is still the first rule of FORWARD (nothing of kube-proxy's accepts before it). */
  guardFirst(): Promise<boolean>;
  stop(): Promise<void>;
};

export function kubectlFor(kubectl: string, kubeconfig: string): Kubectl {
  return (args, input) =>
    new Promise((resolve, reject) => {
      const child = spawn(kubectl, args, { env: { ...process.env, KUBECONFIG: kubeconfig }, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('error', reject);
      child.once('exit', (code) =>
        code === 0
          ? resolve(stdout)
          : reject(new Error(`kubectl ${args.join(' ')} exited with ${code}: ${stderr.trim() || stdout.trim()}`)),
      );
      child.stdin.end(input ?? '');
    });
}

/**
 * Cleans up after a previous run, refuses to start beside another Kubernetes, and records the host before the first
 * change to it (the state file a teardown restores from).
 */
async function beginRun(workDir: string, logDir: string, state: Omit<RunState, 'record' | 'processes'>, say: Say): Promise<RunState> {
  await tearDownCluster({ workDir, say });
  const foreign = await foreignKubernetesChains();
  if (foreign.length > 0) {
    throw new Error(`another Kubernetes seems to run on this machine (iptables chains ${foreign.slice(0, 5).join(', ')}); not touching it`);
  }
  await rm(logDir, { recursive: true, force: true });
  await mkdir(logDir, { recursive: true });
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  const run: RunState = { ...state, record: await recordHost(), processes: [] };
  await saveState(workDir, run);
  return run;
}

/**
 * A real single-node Kubernetes cluster on this machine (k8s/README.md, ADR 0020), one step after the other: the host's
 * network, the PKI, containerd (importing the images meanwhile), etcd, the control plane, kube-proxy (running and
 * synced before anything can be scheduled), the kubelet, and CoreDNS. Cleans up a previous run first. On failure,
 * tears down what it started before rethrowing.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const workDir = options.workDir ?? CLUSTER_WORK_DIR;
  const logDir = options.logDir ?? CLUSTER_LOG_DIR;
  const say = options.say ?? (() => undefined);
  const bins = options.binaries;
  const containerdDir = join(workDir, 'containerd');
  const containerdSocket = join(containerdDir, 'containerd.sock');
  const state = await beginRun(workDir, logDir, { kubeProxy: bins.kubeProxy, containerdSocket }, say);
  const launcher = new Launcher({ workDir, logDir, state, signal: options.signal });
  const kubeconfig = join(workDir, 'pki', 'admin.kubeconfig');
  const kubectl = kubectlFor(bins.kubectl, kubeconfig);
  const cluster: Cluster = {
    kubeconfig,
    kubectl,
    workDir,
    logDir,
    logOf: (component) => join(logDir, `${component}.log`),
    guardFirst: async () => (await firstForwardRule()) === `-A FORWARD -j ${GUARD_CHAIN}`,
    stop: () => tearDownCluster({ workDir, say }),
  };

  try {
    const net = CLUSTER_NETWORK;
    say(`node network: ${net.nodeAddress} on ${net.nodeLink}, pods ${net.podCidr}, services ${net.serviceCidr}`);
    await setUpHostNetwork();
    const pki = await createClusterPki(join(workDir, 'pki'));
    // Nothing can run a container before the kubelet, which starts after kube-proxy.
    const imported = await startContainerd(launcher, {
      dir: containerdDir,
      ipamDir: join(workDir, 'cni-ipam'),
      pauseImage: options.pauseImage,
      imageArchives: options.imageArchives,
      say,
    });
    const etcdUrl = await startEtcd(launcher, bins.etcd, join(workDir, 'etcd'));
    await startControlPlane(launcher, { bins, pki, etcdUrl, kubectl });
    await startKubeProxy(launcher, bins.kubeProxy, workDir, pki);
    // Again, now that kube-proxy has added its own jumps: none of its ACCEPTs may come first.
    await installGuard();
    await imported;
    await startKubelet(launcher, { bin: bins.kubelet, workDir, pki, containerdSocket, kubectl });
    await startCoreDns(launcher, options.corednsImage, kubectl);
    say('cluster ready');
    return cluster;
  } catch (error) {
    await collectDiagnostics(cluster).catch(() => undefined);
    await tearDownCluster({ workDir, say }).catch((teardown) => say(`teardown failed too: ${(teardown as Error).message}`));
    throw error;
  }
}

/** Pods, events and every container's log into the log directory, for a failed run to be read afterwards. */
export async function collectDiagnostics(cluster: Pick<Cluster, 'kubectl' | 'logDir'>): Promise<void> {
  const dir = join(cluster.logDir, 'cluster');
  await mkdir(dir, { recursive: true });
  const save = async (file: string, args: string[]) => {
    const text = await cluster.kubectl(args).catch((error: Error) => error.message);
    await writeFile(join(dir, file), text);
  };
  await save('pods.txt', ['get', 'pods', '--all-namespaces', '-o', 'wide']);
  await save('describe-pods.txt', ['describe', 'pods', '--all-namespaces']);
  await save('events.txt', ['get', 'events', '--all-namespaces', '--sort-by=.lastTimestamp']);
  await save('nodes.txt', ['describe', 'nodes']);
  const pods = await cluster
    .kubectl(['get', 'pods', '--all-namespaces', '-o', 'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\\n"}{end}'])
    .catch(() => '');
  for (const pod of pods.split('\n').filter(Boolean)) {
    const [namespace, name] = pod.split('/') as [string, string];
    await save(`pod-${namespace}-${name}.log`, ['-n', namespace, 'logs', name, '--all-containers', '--prefix', '--tail=400']);
    await save(`pod-${namespace}-${name}.previous.log`, [
      '-n',
      namespace,
      'logs',
      name,
      '--all-containers',
      '--prefix',
      '--previous',
      '--tail=200',
    ]);
  }
}

/** Directories for hostPath PersistentVolumes, owned by the user the pod runs as (no fsGroup change on hostPath). */
export async function makeVolumeDirs(workDir: string, volumes: Array<{ name: string; uid: number }>): Promise<Record<string, string>> {
  const dirs: Record<string, string> = {};
  for (const volume of volumes) {
    const dir = join(workDir, 'volumes', volume.name);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chown(dir, volume.uid, volume.uid);
    dirs[volume.name] = dir;
  }
  return dirs;
}
