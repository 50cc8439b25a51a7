import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { chown, mkdir, readdir, readFile, readlink, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CLUSTER_NETWORK,
  firstForwardRule,
  foreignKubernetesChains,
  GUARD_CHAIN,
  type HostRecord,
  installGuard,
  killPodProcesses,
  recordHost,
  removeClusterCgroups,
  removeHostPaths,
  restoreSysctls,
  setUpHostNetwork,
  tearDownHostNetwork,
  unmountUnder,
} from './cluster-host.js';
import type { ClusterBinaries } from './cluster-tools.js';
import { freePort, waitFor } from './ports.js';
import type { Say } from './tools.js';

const run = promisify(execFile);

/** One cluster per machine: fixed names (links, chains, ports on the node address) and a fixed work directory. */
export const CLUSTER_WORK_DIR = '/var/tmp/jetsaga-cluster';
/** Logs of the last run, kept after the teardown (the work directory is not). */
export const CLUSTER_LOG_DIR = '/var/tmp/jetsaga-cluster-logs';
export const NODE_NAME = 'jetsaga-node';
const CNI_NETWORK = 'jetsaga';
const API_PORT = 6443;

export type Kubectl = (args: string[], input?: string) => Promise<string>;

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

type ProcessRecord = { name: string; pid: number; bin: string };

/** Written before the first change to the host: a later run reads it to clean up after one that was killed. */
type RunState = { record: HostRecord; processes: ProcessRecord[]; kubeProxy: string; containerdSocket: string };

function statePath(workDir: string): string {
  return join(workDir, 'state.json');
}

async function readState(workDir: string): Promise<RunState | undefined> {
  try {
    return JSON.parse(await readFile(statePath(workDir), 'utf8')) as RunState;
  } catch {
    return undefined;
  }
}

async function saveState(workDir: string, state: RunState): Promise<void> {
  const path = statePath(workDir);
  await writeFile(`${path}.tmp`, JSON.stringify(state, null, 2));
  await rename(`${path}.tmp`, path);
}

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

async function openssl(args: string[], cwd: string): Promise<void> {
  await run('openssl', args, { cwd, timeout: 60_000 });
}

/** A CA and the certificates signed by it (server certificates get their addresses as subject alternative names). */
async function makeCertificates(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const net = CLUSTER_NETWORK;
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '2',
      '-subj',
      '/CN=jetsaga-cluster-ca',
    ],
    dir,
  );
  const sign = async (name: string, subject: string, extensions: string) => {
    await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
    await writeFile(join(dir, `${name}.ext`), extensions);
    await openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.crt`,
        '-days',
        '2',
        '-extfile',
        `${name}.ext`,
      ],
      dir,
    );
  };
  const apiNames = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'localhost'];
  await sign(
    'apiserver',
    '/CN=kube-apiserver',
    `subjectAltName=${[net.nodeAddress, net.kubernetesServiceAddress, '127.0.0.1'].map((ip) => `IP:${ip}`).join(',')},${apiNames.map((name) => `DNS:${name}`).join(',')}\nextendedKeyUsage=serverAuth\n`,
  );
  await sign('kubelet', `/CN=${NODE_NAME}`, `subjectAltName=IP:${net.nodeAddress},DNS:${NODE_NAME}\nextendedKeyUsage=serverAuth\n`);
  // The API server's identity towards the kubelet (logs, exec, port-forward); the kubelet trusts the CA.
  await sign('apiserver-kubelet-client', '/CN=kube-apiserver-kubelet-client/O=system:masters', 'extendedKeyUsage=clientAuth\n');
  await openssl(['genrsa', '-out', 'sa.key', '2048'], dir);
  await openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
}

type Identity = { name: string; user: string; groups: string[] };

/** One token per component, each a real identity for RBAC (and the Node authorizer for the kubelet). */
const IDENTITIES: Identity[] = [
  { name: 'admin', user: 'jetsaga-admin', groups: ['system:masters'] },
  { name: 'kubelet', user: `system:node:${NODE_NAME}`, groups: ['system:nodes'] },
  { name: 'kube-proxy', user: 'system:kube-proxy', groups: [] },
  { name: 'kube-controller-manager', user: 'system:kube-controller-manager', groups: [] },
  { name: 'kube-scheduler', user: 'system:kube-scheduler', groups: [] },
];

async function writeKubeconfigs(dir: string, caPem: string): Promise<Record<string, string>> {
  const server = `https://${CLUSTER_NETWORK.nodeAddress}:${API_PORT}`;
  const lines: string[] = [];
  const paths: Record<string, string> = {};
  for (const identity of IDENTITIES) {
    const token = randomBytes(24).toString('hex');
    lines.push(`${token},${identity.user},${identity.user}${identity.groups.length ? `,"${identity.groups.join(',')}"` : ''}`);
    const path = join(dir, `${identity.name}.kubeconfig`);
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'jetsaga', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
      users: [{ name: identity.name, user: { token } }],
      contexts: [{ name: 'jetsaga', context: { cluster: 'jetsaga', user: identity.name, namespace: 'default' } }],
      'current-context': 'jetsaga',
    };
    await writeFile(path, JSON.stringify(config, null, 2), { mode: 0o600 });
    paths[identity.name] = path;
  }
  await writeFile(join(dir, 'tokens.csv'), `${lines.join('\n')}\n`, { mode: 0o600 });
  return paths;
}

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

function containerdConfig(dir: string, pauseImage: string): string {
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "${dir}/containerd.sock"

[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pauseImage}"
  # The machine lacks CAP_SYS_RESOURCE: without this every pod sandbox fails to start.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${dir}/cni"
`;
}

function cniConfig(ipamDir: string): string {
  const net = CLUSTER_NETWORK;
  return JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: CNI_NETWORK,
      plugins: [
        {
          type: 'bridge',
          bridge: net.bridge,
          isGateway: true,
          // No masquerade: pod traffic has nowhere to go but pods and the node (see the guard chain).
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: net.podCidr, gateway: net.podGateway }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: ipamDir,
          },
        },
      ],
    },
    null,
    2,
  );
}

function kubeletConfig(dir: string, pki: string, socket: string): string {
  const net = CLUSTER_NETWORK;
  return JSON.stringify(
    {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      address: net.nodeAddress,
      port: 10250,
      readOnlyPort: 0,
      healthzBindAddress: net.nodeAddress,
      healthzPort: 10248,
      tlsCertFile: join(pki, 'kubelet.crt'),
      tlsPrivateKeyFile: join(pki, 'kubelet.key'),
      authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: join(pki, 'ca.crt') } },
      // Only holders of a certificate from the cluster's CA get past authentication: the API server.
      authorization: { mode: 'AlwaysAllow' },
      containerRuntimeEndpoint: `unix://${socket}`,
      // cgroup v1 (hybrid) on this kind of machine: the kubelet refuses to start on v1 without this.
      failCgroupV1: false,
      cgroupDriver: 'cgroupfs',
      failSwapOn: false,
      clusterDNS: [net.dnsServiceAddress],
      clusterDomain: 'cluster.local',
      // The host's resolver is not the pods' business (and its search domains would leak names off the machine).
      resolvConf: join(dir, 'resolv.conf'),
      podLogsDir: join(dir, 'pod-logs'),
      rotateCertificates: false,
      serializeImagePulls: false,
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '2%', 'imagefs.available': '2%', 'nodefs.inodesFree': '2%' },
      maxPods: 110,
    },
    null,
    2,
  );
}

function kubeProxyConfig(kubeconfig: string): string {
  const net = CLUSTER_NETWORK;
  return JSON.stringify(
    {
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      clientConnection: { kubeconfig },
      hostnameOverride: NODE_NAME,
      bindAddress: net.nodeAddress,
      healthzBindAddress: `${net.nodeAddress}:10256`,
      metricsBindAddress: `${net.nodeAddress}:10249`,
      mode: 'iptables',
      clusterCIDR: net.podCidr,
      detectLocalMode: 'ClusterCIDR',
      // NodePorts answer on the node address only, never on 127.0.0.1 (which would need route_localnet).
      nodePortAddresses: [`${net.nodeAddress}/32`],
      iptables: { localhostNodePorts: false, syncPeriod: '30s', minSyncPeriod: '1s' },
      // Zero: leave the host's conntrack table size and timeouts as they are.
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
      oomScoreAdj: 0,
    },
    null,
    2,
  );
}

/** CoreDNS for cluster.local only: a name outside the cluster gets NXDOMAIN, nothing is forwarded off the machine. */
function corednsManifests(image: string): string {
  const net = CLUSTER_NETWORK;
  const corefile = [
    'cluster.local:1053 in-addr.arpa:1053 ip6.arpa:1053 {',
    '  errors',
    '  health :8080',
    '  ready :8181',
    '  kubernetes cluster.local in-addr.arpa ip6.arpa {',
    '    pods insecure',
    '    fallthrough in-addr.arpa ip6.arpa',
    '  }',
    '  cache 30',
    '  loadbalance',
    '}',
    '.:1053 {',
    '  errors',
    '  template ANY ANY {',
    '    rcode NXDOMAIN',
    '  }',
    '}',
  ].join('\n');
  const labels = { 'k8s-app': 'kube-dns' };
  const objects = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: 'kube-system' } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:coredns' },
      rules: [
        { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:coredns' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
      subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: 'kube-system' }],
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'coredns', namespace: 'kube-system' }, data: { Corefile: corefile } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: 'kube-system', labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'coredns',
            dnsPolicy: 'Default',
            // Restricted like the workloads: unprivileged port 1053 behind the Service's port 53.
            securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'coredns',
                image,
                imagePullPolicy: 'Never',
                args: ['-conf', '/etc/coredns/Corefile'],
                ports: [
                  { name: 'dns', containerPort: 1053, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 1053, protocol: 'TCP' },
                ],
                readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 2 },
                livenessProbe: { httpGet: { path: '/health', port: 8080 }, periodSeconds: 10 },
                resources: { requests: { cpu: '20m', memory: '32Mi' }, limits: { memory: '128Mi' } },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
                volumeMounts: [{ name: 'config', mountPath: '/etc/coredns', readOnly: true }],
              },
            ],
            volumes: [{ name: 'config', configMap: { name: 'coredns' } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: 'kube-system', labels },
      spec: {
        clusterIP: net.dnsServiceAddress,
        selector: labels,
        ports: [
          { name: 'dns', port: 53, targetPort: 1053, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, targetPort: 1053, protocol: 'TCP' },
        ],
      },
    },
  ];
  return objects.map((object) => JSON.stringify(object)).join('\n---\n');
}

/**
 * A real single-node Kubernetes cluster on this machine (shared/TOOLCHAIN.md): etcd and the control plane, kube-proxy
 * (running and synced before anything can be scheduled), containerd with the given images imported, the kubelet, and
 * CoreDNS. Cleans up a previous run first. On failure, tears down what it started before rethrowing.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const workDir = options.workDir ?? CLUSTER_WORK_DIR;
  const logDir = options.logDir ?? CLUSTER_LOG_DIR;
  const say = options.say ?? (() => undefined);
  const bins = options.binaries;
  await tearDownCluster({ workDir, say });
  const foreign = await foreignKubernetesChains();
  if (foreign.length > 0) {
    throw new Error(`another Kubernetes seems to run on this machine (iptables chains ${foreign.slice(0, 5).join(', ')}); not touching it`);
  }
  await rm(logDir, { recursive: true, force: true });
  await mkdir(logDir, { recursive: true });
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  const containerdDir = join(workDir, 'containerd');
  const containerdSocket = join(containerdDir, 'containerd.sock');
  const state: RunState = { record: await recordHost(), processes: [], kubeProxy: bins.kubeProxy, containerdSocket };
  await saveState(workDir, state);

  const children: ChildProcess[] = [];
  const exits = new Map<string, string>();
  const checkAborted = () => {
    if (options.signal?.aborted) throw new Error('cluster start aborted');
  };
  const launch = async (name: string, bin: string, args: string[]) => {
    checkAborted();
    const fd = openSync(join(logDir, `${name}.log`), 'a');
    const child = spawn(bin, args, { detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.once('exit', (code, signal) => exits.set(name, `${name} exited (${signal ?? code}); see ${join(logDir, `${name}.log`)}`));
    children.push(child);
    state.processes.push({ name, pid: child.pid as number, bin });
    await saveState(workDir, state);
  };
  /** Waits for a condition; fails at once when the start is aborted or the component died (naming its log). */
  const until = async (what: string, name: string, probe: () => Promise<boolean>, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      checkAborted();
      const exited = exits.get(name);
      if (exited) throw new Error(exited);
      try {
        if (await probe()) return;
      } catch (error) {
        lastError = error;
      }
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  const cluster: Cluster = {
    kubeconfig: join(workDir, 'pki', 'admin.kubeconfig'),
    kubectl: kubectlFor(bins.kubectl, join(workDir, 'pki', 'admin.kubeconfig')),
    workDir,
    logDir,
    logOf: (component) => join(logDir, `${component}.log`),
    guardFirst: async () => (await firstForwardRule()) === `-A FORWARD -j ${GUARD_CHAIN}`,
    stop: () => tearDownCluster({ workDir, say }),
  };

  try {
    say(
      `node network: ${CLUSTER_NETWORK.nodeAddress} on ${CLUSTER_NETWORK.nodeLink}, pods ${CLUSTER_NETWORK.podCidr}, services ${CLUSTER_NETWORK.serviceCidr}`,
    );
    await setUpHostNetwork();
    const pki = join(workDir, 'pki');
    await makeCertificates(pki);
    const caPem = await readFile(join(pki, 'ca.crt'), 'utf8');
    const kubeconfigs = await writeKubeconfigs(pki, caPem);
    const kubeconfigOf = (name: string) => kubeconfigs[name] as string;
    const kubectl = cluster.kubectl;

    // containerd first, importing the images while the control plane comes up (the longest step of the start: a
    // few hundred MB to unpack). Nothing can run a container before the kubelet, which starts after kube-proxy.
    await mkdir(join(containerdDir, 'cni'), { recursive: true });
    await writeFile(join(containerdDir, 'cni', '10-jetsaga.conflist'), cniConfig(join(workDir, 'cni-ipam')));
    await writeFile(join(containerdDir, 'config.toml'), containerdConfig(containerdDir, options.pauseImage));
    await launch('containerd', '/usr/bin/containerd', ['--config', join(containerdDir, 'config.toml'), '--log-level', 'warn']);
    const ctr = (args: string[]) => run('ctr', ['--address', containerdSocket, '--namespace', 'k8s.io', ...args], { timeout: 600_000 });
    await until('containerd', 'containerd', async () => (await ctr(['version'])).stdout.includes('Server'), 30_000);
    const imported = (async () => {
      for (const archive of options.imageArchives) {
        checkAborted();
        await ctr(['images', 'import', archive]);
      }
      say(`imported ${options.imageArchives.length} images into containerd`);
    })();
    // Settled either way here; awaited (and its failure reported) before the kubelet starts.
    imported.catch(() => undefined);

    const etcdPort = await freePort();
    const etcdPeerPort = await freePort();
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    await launch('etcd', bins.etcd, [
      '--name=jetsaga',
      `--data-dir=${join(workDir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=jetsaga=http://127.0.0.1:${etcdPeerPort}`,
      // A throwaway cluster on a shared two-core machine: fsync buys nothing here.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await until('etcd', 'etcd', async () => (await fetch(`${etcdUrl}/health`)).ok, 30_000);

    const net = CLUSTER_NETWORK;
    await launch('kube-apiserver', bins.kubeApiserver, [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=${net.nodeAddress}`,
      `--advertise-address=${net.nodeAddress}`,
      `--secure-port=${API_PORT}`,
      `--cert-dir=${pki}`,
      `--tls-cert-file=${join(pki, 'apiserver.crt')}`,
      `--tls-private-key-file=${join(pki, 'apiserver.key')}`,
      `--client-ca-file=${join(pki, 'ca.crt')}`,
      `--token-auth-file=${join(pki, 'tokens.csv')}`,
      `--kubelet-client-certificate=${join(pki, 'apiserver-kubelet-client.crt')}`,
      `--kubelet-client-key=${join(pki, 'apiserver-kubelet-client.key')}`,
      `--kubelet-certificate-authority=${join(pki, 'ca.crt')}`,
      '--kubelet-preferred-address-types=InternalIP',
      `--service-account-key-file=${join(pki, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      '--authorization-mode=Node,RBAC',
      '--enable-admission-plugins=NodeRestriction',
      `--service-cluster-ip-range=${net.serviceCidr}`,
      '--allow-privileged=false',
      '--enable-priority-and-fairness=false',
      '--profiling=false',
    ]);
    await until('kube-apiserver', 'kube-apiserver', async () => (await kubectl(['get', '--raw', '/readyz'])).trim() === 'ok', 120_000);

    await launch('kube-controller-manager', bins.kubeControllerManager, [
      `--kubeconfig=${kubeconfigOf('kube-controller-manager')}`,
      `--service-account-private-key-file=${join(pki, 'sa.key')}`,
      `--root-ca-file=${join(pki, 'ca.crt')}`,
      '--use-service-account-credentials=true',
      `--cluster-cidr=${net.podCidr}`,
      '--cluster-name=jetsaga',
      '--leader-elect=false',
      '--secure-port=0',
    ]);
    await launch('kube-scheduler', bins.kubeScheduler, [
      `--kubeconfig=${kubeconfigOf('kube-scheduler')}`,
      '--leader-elect=false',
      '--secure-port=0',
    ]);

    // kube-proxy first: a workload must never send to a ClusterIP that nothing rewrites.
    const proxyConfig = join(workDir, 'kube-proxy.json');
    await writeFile(proxyConfig, kubeProxyConfig(kubeconfigOf('kube-proxy')));
    await launch('kube-proxy', bins.kubeProxy, [`--config=${proxyConfig}`, '--v=1']);
    await until(
      'kube-proxy to program the kubernetes Service',
      'kube-proxy',
      async () => (await run('iptables-save', ['-t', 'nat'])).stdout.includes(`-d ${net.kubernetesServiceAddress}/32`),
      60_000,
    );
    await installGuard();

    await imported;
    const kubeletDir = join(workDir, 'kubelet');
    await mkdir(kubeletDir, { recursive: true });
    await writeFile(join(workDir, 'resolv.conf'), '');
    const kubeletConfigPath = join(workDir, 'kubelet.json');
    await writeFile(kubeletConfigPath, kubeletConfig(workDir, pki, containerdSocket));
    await launch('kubelet', bins.kubelet, [
      `--config=${kubeletConfigPath}`,
      `--kubeconfig=${kubeconfigOf('kubelet')}`,
      `--root-dir=${kubeletDir}`,
      `--hostname-override=${NODE_NAME}`,
      `--node-ip=${net.nodeAddress}`,
      '--v=1',
    ]);
    await until(
      `node ${NODE_NAME} to be Ready`,
      'kubelet',
      async () => (await kubectl(['get', 'node', NODE_NAME, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])) === 'True',
      120_000,
    );

    await kubectl(['apply', '-f', '-'], corednsManifests(options.corednsImage));
    await until(
      'CoreDNS to be available',
      'kubelet',
      async () =>
        (await kubectl(['-n', 'kube-system', 'get', 'deployment', 'coredns', '-o', 'jsonpath={.status.availableReplicas}'])) === '1',
      180_000,
    );
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
