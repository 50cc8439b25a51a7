import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  cacheDir,
  cachedTool,
  compareVersions,
  go,
  goInstalled,
  goToolModule,
  runTool,
  type Say,
  semver,
  ToolBuildError,
  toolOutput,
} from '@jetsaga/devstack';

const run = promisify(execFile);

/** Pinned versions of the Kubernetes tool chain the checks run against. */
export const HELM_VERSION = '3.22.0';
export const ETCD_VERSION = '3.6.8';
export const KUBERNETES_VERSION = '1.36.3';
/** Cluster DNS for the single-node cluster (a static build, Ready in about a second). */
export const COREDNS_VERSION = '1.15.0';

/**
 * Debian packages the cluster run needs on the host: the container runtime and its network plugins, iptables for
 * kube-proxy, buildah for images, busybox and dash for the images' shell, gcc and libc6-dev for the pause binary,
 * pg_isready for the Postgres probes. Installed with apt-get when one is missing (the run is root-only anyway).
 */
const HOST_PACKAGES = [
  'containerd',
  'runc',
  'containernetworking-plugins',
  'iptables',
  'conntrack',
  'iproute2',
  'buildah',
  'busybox-static',
  'dash',
  'gcc',
  'libc6-dev',
  'postgresql-client',
  'openssl',
];

/** Same major and minor: patch releases are interchangeable for what the checks do. */
function sameMinor(found: string | undefined, wanted: string): boolean {
  if (!found) return false;
  return found.split('.').slice(0, 2).join('.') === wanted.split('.').slice(0, 2).join('.');
}

async function installed(name: string): Promise<boolean> {
  const status = await run('dpkg-query', ['-W', '-f=${Status}', name]).then(
    ({ stdout }) => stdout,
    () => '',
  );
  return status.endsWith(' installed');
}

/** Installs the Debian packages of HOST_PACKAGES that are missing (apt 7-30 s on a fresh machine, nothing after). */
export async function ensureHostPackages(say: Say = () => undefined): Promise<void> {
  const missing: string[] = [];
  for (const name of HOST_PACKAGES) if (!(await installed(name))) missing.push(name);
  if (missing.length === 0) return;
  say(`installing Debian packages: ${missing.join(' ')}`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await runTool('apt-get', ['update', '-qq'], { env });
  await runTool('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
}

/** helm: HELM_BIN, else a v3 helm on PATH, else the pinned version built with `go install` (about 50 s). */
export async function ensureHelm(say: Say = () => undefined): Promise<string> {
  if (process.env.HELM_BIN) return process.env.HELM_BIN;
  const onPath = semver(await toolOutput('helm', ['version', '--short']));
  if (onPath?.startsWith('3.') && compareVersions(onPath, '3.14.0') >= 0) return 'helm';
  return goInstalled({ name: 'helm', version: HELM_VERSION, pkg: 'helm.sh/helm/v3/cmd/helm', say, expected: 'about 1 min' });
}

/** etcd: ETCD_BIN, KUBEBUILDER_ASSETS, a 3.6 etcd on PATH, else built from a throwaway module (about 30 s). */
export async function ensureEtcd(say: Say = () => undefined): Promise<string> {
  if (process.env.ETCD_BIN) return process.env.ETCD_BIN;
  const candidates = [process.env.KUBEBUILDER_ASSETS && join(process.env.KUBEBUILDER_ASSETS, 'etcd'), 'etcd'].filter(Boolean) as string[];
  for (const candidate of candidates) {
    if (sameMinor(semver(await toolOutput(candidate, ['--version'])), ETCD_VERSION)) return candidate;
  }
  return cachedTool({
    name: 'etcd',
    version: ETCD_VERSION,
    say,
    expected: 'about 30 s',
    build: async (staging) => {
      const module = join(staging, 'module');
      // `go install` refuses etcd (its go.mod has replace lines); a module that requires it builds fine.
      await goToolModule(module, { requires: [`go.etcd.io/etcd/server/v3 v${ETCD_VERSION}`], imports: ['go.etcd.io/etcd/server/v3'] });
      await go(['build', '-o', join(staging, 'etcd'), 'go.etcd.io/etcd/server/v3'], { cwd: module });
    },
  });
}

/** Where `go mod download` put k8s.io/kubernetes: its go.mod (for the staging replacements) and its sources. */
async function kubernetesSources(): Promise<{ Dir: string; GoMod: string }> {
  return JSON.parse(await go(['mod', 'download', '-json', `k8s.io/kubernetes@v${KUBERNETES_VERSION}`])) as { Dir: string; GoMod: string };
}

/**
 * The control plane's commands and the node's live in two throwaway modules: a module tidied for the control plane
 * lacks the node-only dependencies (cri-streaming, netlink, knftables) in its go.sum, and `go build` refuses a package
 * with missing sums.
 */
const KUBERNETES_MODULES = {
  'control-plane': {
    dir: 'kubernetes-module',
    module: 'jetsaga.local/tools',
    commands: ['cmd/kube-apiserver', 'cmd/kube-controller-manager', 'cmd/kube-scheduler'],
  },
  node: { dir: 'kubernetes-node-module', module: 'jetsaga.local/node-tools', commands: ['cmd/kubelet', 'cmd/kube-proxy', 'cmd/kubectl'] },
} as const;

/**
 * The throwaway module that builds Kubernetes commands at KUBERNETES_VERSION, kept in the cache. k8s.io/kubernetes
 * points its staging modules at `./staging/...`, which a dependent module cannot see; each is replaced by its
 * published v0.<minor>.<patch> twin.
 */
async function kubernetesModule(kind: keyof typeof KUBERNETES_MODULES, say: Say): Promise<string> {
  const spec = KUBERNETES_MODULES[kind];
  const dir = join(cacheDir(), 'tools', `${spec.dir}-${KUBERNETES_VERSION}`);
  if (existsSync(join(dir, 'go.sum'))) return dir;
  say(`preparing the k8s.io/kubernetes v${KUBERNETES_VERSION} ${kind} build module in ${dir}`);
  const upstream = await readFile((await kubernetesSources()).GoMod, 'utf8');
  const stagingVersion = `v0.${KUBERNETES_VERSION.split('.').slice(1).join('.')}`;
  const replaces = [...upstream.matchAll(/^\s*(k8s\.io\/[\w.-]+)\s+=>\s+\.\/staging\//gm)].map(
    ([, module]) => `replace ${module} => ${module} ${stagingVersion}`,
  );
  if (replaces.length === 0) throw new ToolBuildError(`no staging replacements in k8s.io/kubernetes v${KUBERNETES_VERSION}'s go.mod`);
  await mkdir(join(cacheDir(), 'tools'), { recursive: true });
  const building = await mkdtemp(join(cacheDir(), 'tools', `.${spec.dir}-`));
  try {
    await goToolModule(building, {
      module: spec.module,
      requires: [`k8s.io/kubernetes v${KUBERNETES_VERSION}`],
      imports: spec.commands.map((command) => `k8s.io/kubernetes/${command}`),
      replaces,
    });
    await rm(dir, { recursive: true, force: true });
    await rename(building, dir);
  } finally {
    await rm(building, { recursive: true, force: true });
  }
  return dir;
}

/** The version ldflags that helm and kubectl expect (without them the binaries report v0.0.0). */
function versionFlags(): string {
  const [major, minor] = KUBERNETES_VERSION.split('.');
  return [
    `-X k8s.io/component-base/version.gitVersion=v${KUBERNETES_VERSION}`,
    `-X k8s.io/component-base/version.gitMajor=${major}`,
    `-X k8s.io/component-base/version.gitMinor=${minor}`,
  ].join(' ');
}

type ControlPlaneCommand = 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler';
type NodeCommand = 'kubelet' | 'kube-proxy' | 'kubectl';

/** One `k8s.io/kubernetes/cmd/<command>` at KUBERNETES_VERSION (control plane about 3 min cold, 20-40 s warm each). */
export async function ensureKubernetesComponent(command: ControlPlaneCommand | NodeCommand, say: Say = () => undefined): Promise<string> {
  const kind = (KUBERNETES_MODULES.node.commands as readonly string[]).includes(`cmd/${command}`) ? 'node' : 'control-plane';
  return cachedTool({
    name: command,
    version: KUBERNETES_VERSION,
    say,
    expected: kind === 'node' ? 'about 2 min cold' : 'about 3 min cold, 30 s with a warm Go cache',
    build: async (staging) => {
      const module = await kubernetesModule(kind, say);
      await go(['build', '-ldflags', versionFlags(), '-o', join(staging, command), `k8s.io/kubernetes/cmd/${command}`], { cwd: module });
    },
  });
}

/** kube-apiserver: KUBE_APISERVER_BIN, KUBEBUILDER_ASSETS (setup-envtest) at v1.36, else built (about 3 min cold). */
export async function ensureKubeApiserver(say: Say = () => undefined): Promise<string> {
  if (process.env.KUBE_APISERVER_BIN) return process.env.KUBE_APISERVER_BIN;
  if (process.env.KUBEBUILDER_ASSETS) {
    const candidate = join(process.env.KUBEBUILDER_ASSETS, 'kube-apiserver');
    if (sameMinor(semver(await toolOutput(candidate, ['--version'])), KUBERNETES_VERSION)) return candidate;
  }
  return ensureKubernetesComponent('kube-apiserver', say);
}

/**
 * kubectl: KUBECTL_BIN, else one on PATH within the supported skew (one minor version either side of the cluster),
 * else built at KUBERNETES_VERSION from the node module.
 */
export async function ensureKubectl(say: Say = () => undefined): Promise<string> {
  if (process.env.KUBECTL_BIN) return process.env.KUBECTL_BIN;
  const output = (await toolOutput('kubectl', ['version', '--client'])) ?? '';
  const minor = /Client Version: v1\.(\d+)\./.exec(output)?.[1];
  const wanted = Number(KUBERNETES_VERSION.split('.')[1]);
  if (minor !== undefined && Math.abs(Number(minor) - wanted) <= 1) return 'kubectl';
  return ensureKubernetesComponent('kubectl', say);
}

/** A static CoreDNS (CGO off: the image has no libc). */
export async function ensureCoreDns(say: Say = () => undefined): Promise<string> {
  return goInstalled({ name: 'coredns', version: COREDNS_VERSION, pkg: 'github.com/coredns/coredns', say, expected: 'about 1 min' });
}

/** The pod sandbox's pause process, from the k8s.io/kubernetes sources, linked statically (no image to pull). */
export async function ensurePause(say: Say = () => undefined): Promise<string> {
  return cachedTool({
    name: 'pause',
    version: KUBERNETES_VERSION,
    say,
    expected: 'a few seconds',
    build: async (staging) => {
      const source = join((await kubernetesSources()).Dir, 'build', 'pause', 'linux', 'pause.c');
      await run('gcc', ['-Os', '-static', '-o', join(staging, 'pause'), source], { timeout: 120_000 });
    },
  });
}

/**
 * The Tiltfile lint: a small Go program (scripts/k8s-tools/tiltfile-lint) on go.starlark.net. Cached by a hash of
 * its sources, so editing the program rebuilds it and nothing else does.
 */
export async function ensureTiltfileLint(sourceDir: string, say: Say = () => undefined): Promise<string> {
  const hash = createHash('sha256');
  for (const file of ['go.mod', 'go.sum', 'main.go']) hash.update(await readFile(join(sourceDir, file)));
  return cachedTool({
    name: 'tiltfile-lint',
    version: hash.digest('hex').slice(0, 12),
    say,
    expected: 'about 20 s',
    build: async (staging) => {
      await go(['build', '-o', join(staging, 'tiltfile-lint'), '.'], { cwd: sourceDir });
    },
  });
}

export type ClusterBinaries = {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubelet: string;
  kubeProxy: string;
  kubectl: string;
  helm: string;
  coredns: string;
  pause: string;
};

/**
 * Every binary the cluster runs, built one after the other (two cores: Go builds in parallel only compete). A fresh
 * machine spends about 6-8 minutes here once; afterwards this is a few existence checks.
 */
export async function ensureClusterBinaries(say: Say = () => undefined): Promise<ClusterBinaries> {
  await ensureHostPackages(say);
  return {
    helm: await ensureHelm(say),
    etcd: await ensureEtcd(say),
    kubeApiserver: await ensureKubeApiserver(say),
    kubeControllerManager: await ensureKubernetesComponent('kube-controller-manager', say),
    kubeScheduler: await ensureKubernetesComponent('kube-scheduler', say),
    kubelet: await ensureKubernetesComponent('kubelet', say),
    kubeProxy: await ensureKubernetesComponent('kube-proxy', say),
    kubectl: await ensureKubectl(say),
    coredns: await ensureCoreDns(say),
    pause: await ensurePause(say),
  };
}
