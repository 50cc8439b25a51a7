import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, type Say } from '@jetsaga/devstack';
import { cniConfig, containerdConfig, corednsManifests, kubeletConfig, kubeProxyConfig } from './config-files.js';
import { CLUSTER_NETWORK } from './host-safety.js';
import { API_PORT, NODE_NAME } from './layout.js';
import type { ClusterPki } from './pki.js';
import { type RunState, saveState } from './run-state.js';
import type { ClusterBinaries } from './tools.js';

const run = promisify(execFile);

export type Kubectl = (args: string[], input?: string) => Promise<string>;

/**
 * Starts the cluster's processes (detached, each logging to `<logDir>/<name>.log`), records each in the run's state
 * before anything else happens, and waits for their conditions: a wait fails at once when the start is aborted or the
 * component it depends on has exited (naming its log).
 */
export class Launcher {
  private readonly children: ChildProcess[] = [];
  private readonly exits = new Map<string, string>();

  constructor(private readonly options: { workDir: string; logDir: string; state: RunState; signal?: AbortSignal }) {}

  checkAborted(): void {
    if (this.options.signal?.aborted) throw new Error('cluster start aborted');
  }

  async launch(name: string, bin: string, args: string[]): Promise<void> {
    this.checkAborted();
    const { logDir, state, workDir } = this.options;
    const fd = openSync(join(logDir, `${name}.log`), 'a');
    const child = spawn(bin, args, { detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.once('exit', (code, signal) => this.exits.set(name, `${name} exited (${signal ?? code}); see ${join(logDir, `${name}.log`)}`));
    this.children.push(child);
    state.processes.push({ name, pid: child.pid as number, bin });
    await saveState(workDir, state);
  }

  async until(what: string, name: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      this.checkAborted();
      const exited = this.exits.get(name);
      if (exited) throw new Error(exited);
      try {
        if (await probe()) return;
      } catch (error) {
        lastError = error;
      }
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/**
 * containerd, then the images imported in the background while the control plane comes up (the longest step of the
 * start: a few hundred MB to unpack). Returns the import, to be awaited before the kubelet starts.
 */
export async function startContainerd(
  launcher: Launcher,
  options: { dir: string; ipamDir: string; pauseImage: string; imageArchives: string[]; say: Say },
): Promise<Promise<void>> {
  const { dir } = options;
  await mkdir(join(dir, 'cni'), { recursive: true });
  await writeFile(join(dir, 'cni', '10-jetsaga.conflist'), cniConfig(options.ipamDir));
  await writeFile(join(dir, 'config.toml'), await containerdConfig(dir, options.pauseImage));
  await launcher.launch('containerd', '/usr/bin/containerd', ['--config', join(dir, 'config.toml'), '--log-level', 'warn']);
  const ctr = (args: string[]) =>
    run('ctr', ['--address', join(dir, 'containerd.sock'), '--namespace', 'k8s.io', ...args], { timeout: 600_000 });
  await launcher.until('containerd', 'containerd', async () => (await ctr(['version'])).stdout.includes('Server'), 30_000);
  const imported = (async () => {
    for (const archive of options.imageArchives) {
      launcher.checkAborted();
      await ctr(['images', 'import', archive]);
    }
    options.say(`imported ${options.imageArchives.length} images into containerd`);
  })();
  // Settled either way here; awaited (and its failure reported) before the kubelet starts.
  imported.catch(() => undefined);
  return imported;
}

/** etcd on loopback; returns its client URL. */
export async function startEtcd(launcher: Launcher, bin: string, dataDir: string): Promise<string> {
  const etcdPort = await freePort();
  const etcdPeerPort = await freePort();
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  await launcher.launch('etcd', bin, [
    '--name=jetsaga',
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
    `--initial-cluster=jetsaga=http://127.0.0.1:${etcdPeerPort}`,
    // A throwaway cluster on a shared two-core machine: fsync buys nothing here.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ]);
  await launcher.until('etcd', 'etcd', async () => (await fetch(`${etcdUrl}/health`)).ok, 30_000);
  return etcdUrl;
}

/** kube-apiserver on the node address (Node and RBAC authorization, privileged pods refused), then the controllers. */
export async function startControlPlane(
  launcher: Launcher,
  options: { bins: ClusterBinaries; pki: ClusterPki; etcdUrl: string; kubectl: Kubectl },
): Promise<void> {
  const { bins, pki } = options;
  const net = CLUSTER_NETWORK;
  await launcher.launch('kube-apiserver', bins.kubeApiserver, [
    `--etcd-servers=${options.etcdUrl}`,
    `--bind-address=${net.nodeAddress}`,
    `--advertise-address=${net.nodeAddress}`,
    `--secure-port=${API_PORT}`,
    `--cert-dir=${pki.dir}`,
    `--tls-cert-file=${pki.file('apiserver.crt')}`,
    `--tls-private-key-file=${pki.file('apiserver.key')}`,
    `--client-ca-file=${pki.file('ca.crt')}`,
    `--token-auth-file=${pki.file('tokens.csv')}`,
    `--kubelet-client-certificate=${pki.file('apiserver-kubelet-client.crt')}`,
    `--kubelet-client-key=${pki.file('apiserver-kubelet-client.key')}`,
    `--kubelet-certificate-authority=${pki.file('ca.crt')}`,
    '--kubelet-preferred-address-types=InternalIP',
    `--service-account-key-file=${pki.file('sa.pub')}`,
    `--service-account-signing-key-file=${pki.file('sa.key')}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    `--service-cluster-ip-range=${net.serviceCidr}`,
    '--allow-privileged=false',
    '--enable-priority-and-fairness=false',
    '--profiling=false',
  ]);
  await launcher.until(
    'kube-apiserver',
    'kube-apiserver',
    async () => (await options.kubectl(['get', '--raw', '/readyz'])).trim() === 'ok',
    120_000,
  );
  await launcher.launch('kube-controller-manager', bins.kubeControllerManager, [
    `--kubeconfig=${pki.kubeconfigOf('kube-controller-manager')}`,
    `--service-account-private-key-file=${pki.file('sa.key')}`,
    `--root-ca-file=${pki.file('ca.crt')}`,
    '--use-service-account-credentials=true',
    `--cluster-cidr=${net.podCidr}`,
    '--cluster-name=jetsaga',
    '--leader-elect=false',
    '--secure-port=0',
  ]);
  await launcher.launch('kube-scheduler', bins.kubeScheduler, [
    `--kubeconfig=${pki.kubeconfigOf('kube-scheduler')}`,
    '--leader-elect=false',
    '--secure-port=0',
  ]);
}

/** kube-proxy, synced: a workload must never send to a ClusterIP that nothing rewrites. */
export async function startKubeProxy(launcher: Launcher, bin: string, workDir: string, pki: ClusterPki): Promise<void> {
  const config = join(workDir, 'kube-proxy.json');
  await writeFile(config, kubeProxyConfig(pki.kubeconfigOf('kube-proxy')));
  await launcher.launch('kube-proxy', bin, [`--config=${config}`, '--v=1']);
  await launcher.until(
    'kube-proxy to program the kubernetes Service',
    'kube-proxy',
    async () => (await run('iptables-save', ['-t', 'nat'])).stdout.includes(`-d ${CLUSTER_NETWORK.kubernetesServiceAddress}/32`),
    60_000,
  );
}

/** The kubelet, until its node is Ready. */
export async function startKubelet(
  launcher: Launcher,
  options: { bin: string; workDir: string; pki: ClusterPki; containerdSocket: string; kubectl: Kubectl },
): Promise<void> {
  const { workDir } = options;
  const kubeletDir = join(workDir, 'kubelet');
  await mkdir(kubeletDir, { recursive: true });
  await writeFile(join(workDir, 'resolv.conf'), '');
  const config = join(workDir, 'kubelet.json');
  await writeFile(config, kubeletConfig(workDir, options.pki, options.containerdSocket));
  await launcher.launch('kubelet', options.bin, [
    `--config=${config}`,
    `--kubeconfig=${options.pki.kubeconfigOf('kubelet')}`,
    `--root-dir=${kubeletDir}`,
    `--hostname-override=${NODE_NAME}`,
    `--node-ip=${CLUSTER_NETWORK.nodeAddress}`,
    '--v=1',
  ]);
  await launcher.until(
    `node ${NODE_NAME} to be Ready`,
    'kubelet',
    async () =>
      (await options.kubectl(['get', 'node', NODE_NAME, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])) === 'True',
    120_000,
  );
}

/** CoreDNS as a Deployment at the DNS service address, until it is available. */
export async function startCoreDns(launcher: Launcher, image: string, kubectl: Kubectl): Promise<void> {
  await kubectl(['apply', '-f', '-'], await corednsManifests(image));
  await launcher.until(
    'CoreDNS to be available',
    'kubelet',
    async () =>
      (await kubectl(['-n', 'kube-system', 'get', 'deployment', 'coredns', '-o', 'jsonpath={.status.availableReplicas}'])) === '1',
    180_000,
  );
}
