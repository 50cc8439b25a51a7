import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureEtcd, ensureHelm, ensureKubeApiserver, ensureKubernetesComponent, KUBERNETES_VERSION, ToolBuildError } from './k8s-tools.js';
import { cacheDir, type Say } from './tools.js';

const run = promisify(execFile);

/** Cluster DNS for the single-node cluster (shared/TOOLCHAIN.md: static build, Ready in about a second). */
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

function command(bin: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', (error) => reject(new ToolBuildError(`${bin} could not be started`, { cause: error })));
    child.once('exit', (code) =>
      code === 0 ? resolve(stdout) : reject(new ToolBuildError(`${bin} ${args.join(' ')} exited with ${code}:\n${stderr.slice(-4000)}`)),
    );
  });
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
  await command('apt-get', ['update', '-qq'], { env });
  await command('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
}

/**
 * Builds `<cache>/tools/<name>-<version>/<name>` once: into a staging directory renamed into place, so an interrupted
 * build never leaves half a binary. Same layout as k8s-tools.ts, so both find each other's builds.
 */
async function cached(
  name: string,
  version: string,
  say: Say,
  expected: string,
  build: (staging: string) => Promise<void>,
): Promise<string> {
  const dir = join(cacheDir(), 'tools', `${name}-${version}`);
  const target = join(dir, name);
  if (existsSync(target)) return target;
  await mkdir(dir, { recursive: true });
  const staging = await mkdtemp(join(dir, '.build-'));
  const started = Date.now();
  say(`building ${name} ${version} into ${dir} (once per machine, ${expected})`);
  try {
    await build(staging);
    await rename(join(staging, name), target);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  const seconds = Math.round((Date.now() - started) / 1000);
  await writeFile(join(dir, 'build.json'), JSON.stringify({ name, version, seconds, builtAt: new Date().toISOString() }) + '\n');
  say(`built ${name} ${version} in ${seconds} s`);
  return target;
}

function go(args: string[], cwd?: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  return command('go', args, { cwd, env: { CGO_ENABLED: '0', ...env } });
}

/** Where `go mod download` put k8s.io/kubernetes: its go.mod (for the staging replacements) and its sources. */
async function kubernetesSources(): Promise<{ Dir: string; GoMod: string }> {
  return JSON.parse(await go(['mod', 'download', '-json', `k8s.io/kubernetes@v${KUBERNETES_VERSION}`])) as { Dir: string; GoMod: string };
}

/**
 * A throwaway module for the node components (kubelet, kube-proxy, kubectl). k8s-tools.ts keeps one for the control
 * plane whose go.sum lacks the node-only dependencies (cri-streaming, netlink, knftables), and `go build` refuses a
 * package with missing sums; this one imports the node commands, so `go mod tidy` records them.
 */
async function nodeModule(say: Say): Promise<string> {
  const dir = join(cacheDir(), 'tools', `kubernetes-node-module-${KUBERNETES_VERSION}`);
  if (existsSync(join(dir, 'go.sum'))) return dir;
  say(`preparing the k8s.io/kubernetes v${KUBERNETES_VERSION} node build module in ${dir}`);
  const upstream = await readFile((await kubernetesSources()).GoMod, 'utf8');
  const stagingVersion = `v0.${KUBERNETES_VERSION.split('.').slice(1).join('.')}`;
  const replaces = [...upstream.matchAll(/^\s*(k8s\.io\/[\w.-]+)\s+=>\s+\.\/staging\//gm)].map(
    ([, module]) => `replace ${module} => ${module} ${stagingVersion}`,
  );
  if (replaces.length === 0) throw new ToolBuildError(`no staging replacements in k8s.io/kubernetes v${KUBERNETES_VERSION}'s go.mod`);
  await mkdir(join(cacheDir(), 'tools'), { recursive: true });
  const building = await mkdtemp(join(cacheDir(), 'tools', '.kubernetes-node-module-'));
  try {
    const goMod = [
      'module jetsaga.local/node-tools',
      '',
      'go 1.24',
      '',
      `require k8s.io/kubernetes v${KUBERNETES_VERSION}`,
      '',
      ...replaces,
      '',
    ];
    await writeFile(join(building, 'go.mod'), goMod.join('\n'));
    const imports = ['cmd/kubelet', 'cmd/kube-proxy', 'cmd/kubectl'].map((path) => `\t_ "k8s.io/kubernetes/${path}"`);
    await writeFile(join(building, 'tools.go'), ['//go:build tools', '', 'package tools', '', 'import (', ...imports, ')', ''].join('\n'));
    await go(['mod', 'tidy'], building);
    await rm(dir, { recursive: true, force: true });
    await rename(building, dir);
  } finally {
    await rm(building, { recursive: true, force: true });
  }
  return dir;
}

function versionFlags(): string {
  const [major, minor] = KUBERNETES_VERSION.split('.');
  return [
    `-X k8s.io/component-base/version.gitVersion=v${KUBERNETES_VERSION}`,
    `-X k8s.io/component-base/version.gitMajor=${major}`,
    `-X k8s.io/component-base/version.gitMinor=${minor}`,
  ].join(' ');
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

/** kubelet, kube-proxy or kubectl at KUBERNETES_VERSION (20-130 s each with a warm Go cache). */
export async function ensureNodeComponent(component: 'kubelet' | 'kube-proxy' | 'kubectl', say: Say = () => undefined): Promise<string> {
  return cached(component, KUBERNETES_VERSION, say, 'about 2 min cold', async (staging) => {
    const module = await nodeModule(say);
    await go(['build', '-ldflags', versionFlags(), '-o', join(staging, component), `k8s.io/kubernetes/cmd/${component}`], module);
  });
}

/** A static CoreDNS (CGO off: the image has no libc). */
export async function ensureCoreDns(say: Say = () => undefined): Promise<string> {
  return cached('coredns', COREDNS_VERSION, say, 'about 1 min', async (staging) => {
    await go(['install', `github.com/coredns/coredns@v${COREDNS_VERSION}`], undefined, { GOBIN: staging });
  });
}

/** The pod sandbox's pause process, from the k8s.io/kubernetes sources, linked statically (no image to pull). */
export async function ensurePause(say: Say = () => undefined): Promise<string> {
  return cached('pause', KUBERNETES_VERSION, say, 'a few seconds', async (staging) => {
    const source = join((await kubernetesSources()).Dir, 'build', 'pause', 'linux', 'pause.c');
    await run('gcc', ['-Os', '-static', '-o', join(staging, 'pause'), source], { timeout: 120_000 });
  });
}

/**
 * kubectl: KUBECTL_BIN, else one on PATH within the supported skew (one minor version either side of the cluster),
 * else built at KUBERNETES_VERSION from the node module.
 */
export async function ensureKubectl(say: Say = () => undefined): Promise<string> {
  if (process.env.KUBECTL_BIN) return process.env.KUBECTL_BIN;
  const output = await run('kubectl', ['version', '--client'], { timeout: 20_000 }).then(
    ({ stdout }) => stdout,
    () => '',
  );
  const minor = /Client Version: v1\.(\d+)\./.exec(output)?.[1];
  const wanted = Number(KUBERNETES_VERSION.split('.')[1]);
  if (minor !== undefined && Math.abs(Number(minor) - wanted) <= 1) return 'kubectl';
  return ensureNodeComponent('kubectl', say);
}

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
    kubelet: await ensureNodeComponent('kubelet', say),
    kubeProxy: await ensureNodeComponent('kube-proxy', say),
    kubectl: await ensureKubectl(say),
    coredns: await ensureCoreDns(say),
    pause: await ensurePause(say),
  };
}
