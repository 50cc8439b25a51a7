import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Addresses of the single-node cluster. Everything sits in 198.18.0.0/15, the block reserved for network benchmarks
 * (RFC 2544): never routed on the internet and not one of the private ranges a machine's own networks use.
 */
export const CLUSTER_NETWORK = {
  /**
   * The node's address, on a link the run creates (a dummy, or a bridge without ports where the kernel has no dummy
   * driver): the API server and the kubelet listen here.
   */
  nodeAddress: '198.19.255.1',
  nodeLink: 'jetsaga-node0',
  /** The pods' bridge (CNI bridge plugin) and their range; the bridge holds the gateway address. */
  bridge: 'jetsaga-br0',
  podCidr: '198.18.0.0/24',
  podGateway: '198.18.0.1',
  /** Service ClusterIPs: a blackhole route makes sure a packet to one that kube-proxy did not rewrite goes nowhere. */
  serviceCidr: '198.19.0.0/24',
  kubernetesServiceAddress: '198.19.0.1',
  dnsServiceAddress: '198.19.0.10',
  block: '198.18.0.0/15',
} as const;

/** The filter chain that keeps pod traffic on this machine: pods may reach pods and the node, nothing forwarded out. */
export const GUARD_CHAIN = 'JETSAGA-GUARD';

/**
 * Kernel settings the kubelet and kube-proxy change, plus the two forwarding switches pods need.
 * Their values before the run are recorded and written back by the teardown.
 */
export const TOUCHED_SYSCTLS = [
  'net.ipv4.ip_forward',
  'net.bridge.bridge-nf-call-iptables',
  'net.bridge.bridge-nf-call-ip6tables',
  'net.ipv4.conf.all.route_localnet',
  'vm.overcommit_memory',
  'vm.panic_on_oom',
  'kernel.panic',
  'kernel.panic_on_oops',
  'kernel.keys.root_maxkeys',
  'kernel.keys.root_maxbytes',
  'net.netfilter.nf_conntrack_max',
  'net.netfilter.nf_conntrack_tcp_timeout_established',
  'net.netfilter.nf_conntrack_tcp_timeout_close_wait',
] as const;

/**
 * Host paths a cluster writes outside its work directory whatever its flags say: the kubelet's default root, pod log
 * links, the CNI result cache, the runc shim state and sockets. Removed after the run when they did not exist before.
 */
export const HOST_PATHS = [
  '/var/lib/kubelet',
  '/var/log/pods',
  '/var/log/containers',
  '/var/lib/cni',
  '/run/containerd',
  '/etc/kubernetes',
];

/** cgroups the kubelet (cgroupfs driver) and containerd create at the top of every hierarchy. */
export const CLUSTER_CGROUPS = ['kubepods', 'k8s.io'];

export type HostRecord = {
  sysctls: Record<string, string>;
  /** HOST_PATHS that existed before the run (left alone afterwards, except for the run's own entries). */
  existingPaths: string[];
  /** CLUSTER_CGROUPS found before the run, as `<hierarchy>/<name>` (never removed). */
  existingCgroups: string[];
};

function sysctlPath(name: string): string {
  return join('/proc/sys', ...name.split('.'));
}

async function readSysctl(name: string): Promise<string | undefined> {
  return readFile(sysctlPath(name), 'utf8').then(
    (value) => value.trim(),
    () => undefined,
  );
}

export async function writeSysctl(name: string, value: string): Promise<void> {
  if ((await readSysctl(name)) === value) return;
  await writeFile(sysctlPath(name), `${value}\n`);
}

async function cgroupHierarchies(): Promise<string[]> {
  const root = '/sys/fs/cgroup';
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  const dirs = entries.filter((entry) => entry.isDirectory()).map((entry) => join(root, entry.name));
  // cgroup v2 mounted at the root itself (no controller sub-mounts): the root is the only hierarchy.
  return existsSync(join(root, 'cgroup.controllers')) ? [root] : dirs;
}

/** What the host looks like before the run changes it. */
export async function recordHost(): Promise<HostRecord> {
  const sysctls: Record<string, string> = {};
  for (const name of TOUCHED_SYSCTLS) {
    const value = await readSysctl(name);
    if (value !== undefined) sysctls[name] = value;
  }
  const existingCgroups: string[] = [];
  for (const hierarchy of await cgroupHierarchies()) {
    for (const name of CLUSTER_CGROUPS) if (existsSync(join(hierarchy, name))) existingCgroups.push(join(hierarchy, name));
  }
  return { sysctls, existingPaths: HOST_PATHS.filter((path) => existsSync(path)), existingCgroups };
}

export async function sh(command: string, args: string[], options: { allowFailure?: boolean; input?: string } = {}): Promise<string> {
  try {
    const { stdout } = await run(command, args, { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    if (options.allowFailure) return '';
    const failure = error as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${failure.stderr?.trim() || failure.message}`, { cause: error });
  }
}

async function linkExists(name: string): Promise<boolean> {
  return existsSync(join('/sys/class/net', name));
}

/**
 * The node's network, before anything of Kubernetes starts: the node address on a link of its own, blackhole routes for
 * the service range and the rest of the block (a packet for an address nobody owns is dropped here instead of
 * following the default route off the machine), forwarding on, and the guard chain.
 */
export async function setUpHostNetwork(): Promise<void> {
  const net = CLUSTER_NETWORK;
  if (!(await linkExists(net.nodeLink))) {
    // Kernels without the dummy driver (this kind of machine boots with modules off): a bridge with no port holds an
    // address just the same and, having no port, has nowhere to send a frame.
    await sh('ip', ['link', 'add', net.nodeLink, 'type', 'dummy']).catch(() => sh('ip', ['link', 'add', net.nodeLink, 'type', 'bridge']));
  }
  await sh('ip', ['addr', 'replace', `${net.nodeAddress}/32`, 'dev', net.nodeLink]);
  await sh('ip', ['link', 'set', net.nodeLink, 'up']);
  await sh('ip', ['route', 'replace', 'blackhole', net.serviceCidr]);
  await sh('ip', ['route', 'replace', 'blackhole', net.block]);
  await writeSysctl('net.ipv4.ip_forward', '1');
  // Service traffic between two pods of the same bridge must pass iptables, or replies skip the reverse NAT.
  if (existsSync(sysctlPath('net.bridge.bridge-nf-call-iptables'))) await writeSysctl('net.bridge.bridge-nf-call-iptables', '1');
  await installGuard();
}

/**
 * Pod traffic may go from the bridge back into the bridge (pod to pod, also through a Service; accepted here, so a
 * FORWARD policy of DROP does not matter) or up to the node itself (INPUT, not FORWARD); anything else forwarded from
 * or to the bridge or the block is dropped. Jumped to first in FORWARD:
 * call again once kube-proxy has added its own jumps, so that no ACCEPT of kube-proxy's comes before it.
 */
export async function installGuard(): Promise<void> {
  const bridge = CLUSTER_NETWORK.bridge;
  await sh('iptables', ['-w', '-N', GUARD_CHAIN], { allowFailure: true });
  await sh('iptables', ['-w', '-F', GUARD_CHAIN]);
  await sh('iptables', ['-w', '-A', GUARD_CHAIN, '-i', bridge, '-o', bridge, '-j', 'ACCEPT']);
  await sh('iptables', ['-w', '-A', GUARD_CHAIN, '-i', bridge, '-j', 'DROP']);
  await sh('iptables', ['-w', '-A', GUARD_CHAIN, '-o', bridge, '-j', 'DROP']);
  await sh('iptables', ['-w', '-A', GUARD_CHAIN, '-s', CLUSTER_NETWORK.block, '-j', 'DROP']);
  await sh('iptables', ['-w', '-A', GUARD_CHAIN, '-d', CLUSTER_NETWORK.block, '-j', 'DROP']);
  while (
    await sh('iptables', ['-w', '-D', 'FORWARD', '-j', GUARD_CHAIN]).then(
      () => true,
      () => false,
    )
  );
  await sh('iptables', ['-w', '-I', 'FORWARD', '1', '-j', GUARD_CHAIN]);
}

/** The first rule of FORWARD, to check that the guard still comes before everything else. */
export async function firstForwardRule(): Promise<string> {
  const rules = (await sh('iptables', ['-w', '-S', 'FORWARD'])).split('\n').filter((line) => line.startsWith('-A FORWARD'));
  return rules[0] ?? '';
}

/** Mount points at or below `dir`, deepest first (mountinfo escapes spaces and such as octal). */
async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const points = info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined)
    .map((point) => point.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))))
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export async function unmountUnder(dir: string): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const points = await mountsUnder(dir);
    if (points.length === 0) return;
    for (const point of points) {
      await sh('umount', [point], { allowFailure: true });
      if ((await mountsUnder(point)).includes(point)) await sh('umount', ['-l', point], { allowFailure: true });
    }
  }
  const left = await mountsUnder(dir);
  if (left.length > 0) throw new Error(`still mounted under ${dir}: ${left.join(', ')}`);
}

async function pidsIn(cgroup: string): Promise<number[]> {
  const pids: number[] = [];
  const entries = await readdir(cgroup, { withFileTypes: true }).catch(() => []);
  const procs = await readFile(join(cgroup, 'cgroup.procs'), 'utf8').catch(() => '');
  pids.push(...procs.split('\n').filter(Boolean).map(Number));
  for (const entry of entries) if (entry.isDirectory()) pids.push(...(await pidsIn(join(cgroup, entry.name))));
  return pids;
}

/** The run's cgroups (every hierarchy), without those that existed before it. */
async function clusterCgroups(record: HostRecord): Promise<string[]> {
  const found: string[] = [];
  for (const hierarchy of await cgroupHierarchies()) {
    for (const name of CLUSTER_CGROUPS) {
      const path = join(hierarchy, name);
      if (existsSync(path) && !record.existingCgroups.includes(path)) found.push(path);
    }
  }
  return found;
}

/** Every process of every pod: SIGKILL until the pods' cgroups are empty (bounded: processes may be forking). */
export async function killPodProcesses(record: HostRecord): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const pids = new Set<number>();
    for (const cgroup of await clusterCgroups(record)) for (const pid of await pidsIn(cgroup)) pids.add(pid);
    pids.delete(process.pid);
    if (pids.size === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('pod processes survived 50 rounds of SIGKILL');
}

async function removeCgroupTree(path: string): Promise<void> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) if (entry.isDirectory()) await removeCgroupTree(join(path, entry.name));
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      await rmdir(path);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      // EBUSY for a moment while the kernel finishes with the last exiting task.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`cgroup ${path} could not be removed`);
}

export async function removeClusterCgroups(record: HostRecord): Promise<void> {
  for (const cgroup of await clusterCgroups(record)) await removeCgroupTree(cgroup);
}

/** Rules in built-in chains that jump to `prefix` chains, then those chains: iptables or ip6tables, every table. */
async function removeChains(tool: 'iptables' | 'ip6tables', prefix: string): Promise<void> {
  for (const table of ['filter', 'nat', 'mangle', 'raw']) {
    const saved = await sh(`${tool}-save`, ['-t', table], { allowFailure: true });
    const chains = [...saved.matchAll(/^:(\S+) /gm)].map(([, chain]) => chain as string).filter((chain) => chain.startsWith(prefix));
    if (chains.length === 0) continue;
    const jumps = saved
      .split('\n')
      .filter((line) => line.startsWith('-A ') && chains.some((chain) => line.includes(`-j ${chain}`) || line.includes(`-g ${chain}`)))
      .filter((line) => !chains.includes(line.split(' ')[1] as string));
    for (const rule of jumps) {
      // iptables-save quotes comments; the rule's words, unquoted, are what -D takes.
      const words = [...rule.slice(3).matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map(([, quoted, plain]) => quoted ?? (plain as string));
      await sh(tool, ['-w', '-t', table, '-D', ...words], { allowFailure: true });
    }
    for (const chain of chains) await sh(tool, ['-w', '-t', table, '-F', chain], { allowFailure: true });
    for (const chain of chains) await sh(tool, ['-w', '-t', table, '-X', chain], { allowFailure: true });
  }
}

/** KUBE-* chains present before a run: another Kubernetes on this machine, which the run must not disturb. */
export async function foreignKubernetesChains(): Promise<string[]> {
  const found: string[] = [];
  for (const table of ['filter', 'nat', 'mangle']) {
    const saved = await sh('iptables-save', ['-t', table], { allowFailure: true });
    found.push(...[...saved.matchAll(/^:(KUBE-\S+) /gm)].map(([, chain]) => `${table}/${chain}`));
  }
  return found;
}

/**
 * Undoes what the node did to the host's network (idempotent; every step tolerates "already gone"): kube-proxy's rules
 * through its own `--cleanup`, then any KUBE-* chain left (the kubelet's) when the run's record says they are its own,
 * the guard, conntrack entries of the
 * block, the pods' leftover veths and bridge, the dummy link, the routes.
 */
export async function tearDownHostNetwork(kubeProxy: string | undefined, options: { kubernetesChains: boolean }): Promise<void> {
  const net = CLUSTER_NETWORK;
  if (options.kubernetesChains) {
    if (kubeProxy && existsSync(kubeProxy)) await sh(kubeProxy, ['--cleanup', '--v=0'], { allowFailure: true });
    for (const tool of ['iptables', 'ip6tables'] as const) await removeChains(tool, 'KUBE-');
  }
  await removeChains('iptables', GUARD_CHAIN);
  await sh('conntrack', ['-D', '-s', net.block], { allowFailure: true });
  await sh('conntrack', ['-D', '-d', net.block], { allowFailure: true });
  if (await linkExists(net.bridge)) {
    const ports = (await readdir(join('/sys/class/net', net.bridge, 'brif')).catch(() => [])) as string[];
    for (const port of ports) await sh('ip', ['link', 'del', port], { allowFailure: true });
    await sh('ip', ['link', 'del', net.bridge], { allowFailure: true });
  }
  if (await linkExists(net.nodeLink)) await sh('ip', ['link', 'del', net.nodeLink], { allowFailure: true });
  await sh('ip', ['route', 'del', 'blackhole', net.serviceCidr], { allowFailure: true });
  await sh('ip', ['route', 'del', 'blackhole', net.block], { allowFailure: true });
}

/** Writes back the recorded kernel settings. */
export async function restoreSysctls(record: HostRecord): Promise<void> {
  for (const [name, value] of Object.entries(record.sysctls)) await writeSysctl(name, value).catch(() => undefined);
}

/**
 * Removes what the run left in host paths: the paths it created entirely; in pre-existing ones only entries that are
 * the run's own (CNI results of its network).
 */
export async function removeHostPaths(record: HostRecord | undefined, networkName: string): Promise<void> {
  for (const path of HOST_PATHS) {
    if (!record?.existingPaths.includes(path)) {
      if (record) await rm(path, { recursive: true, force: true });
      continue;
    }
    if (path === '/var/lib/cni') {
      for (const sub of ['results', 'cache/results']) {
        const dir = join(path, sub);
        for (const entry of await readdir(dir).catch(() => [] as string[])) {
          if (entry.startsWith(`${networkName}-`)) await rm(join(dir, entry), { force: true });
        }
      }
    }
  }
}
