import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cacheDir, compareVersions, type Say } from './tools.js';

const run = promisify(execFile);

/** Pinned versions of the Kubernetes tool chain the checks run against (see shared/TOOLCHAIN.md). */
export const HELM_VERSION = '3.22.0';
export const ETCD_VERSION = '3.6.8';
export const KUBERNETES_VERSION = '1.36.3';

export class ToolBuildError extends Error {
  override readonly name = 'ToolBuildError';
}

function toolDir(name: string, version: string): string {
  return join(cacheDir(), 'tools', `${name}-${version}`);
}

async function versionLine(bin: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await run(bin, args, { timeout: 20_000 });
    return stdout + stderr;
  } catch {
    return undefined;
  }
}

function semver(output: string | undefined): string | undefined {
  return output ? /v?(\d+\.\d+\.\d+)/.exec(output)?.[1] : undefined;
}

/** Same major and minor: patch releases are interchangeable for what the checks do. */
function sameMinor(found: string | undefined, wanted: string): boolean {
  if (!found) return false;
  return found.split('.').slice(0, 2).join('.') === wanted.split('.').slice(0, 2).join('.');
}

function go(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('go', args, {
      cwd: options.cwd,
      env: { ...process.env, CGO_ENABLED: '0', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', (error) => reject(new ToolBuildError('Go is needed to build the Kubernetes test tools', { cause: error })));
    child.once('exit', (code) =>
      code === 0 ? resolve(stdout) : reject(new ToolBuildError(`go ${args.join(' ')} exited with ${code}:\n${stderr.slice(-4000)}`)),
    );
  });
}

/**
 * Returns `<cache>/tools/<name>-<version>/<bin>`, building it first into a staging directory that is renamed into
 * place, so an interrupted or concurrent build never leaves a half-written binary behind. The build's duration is
 * recorded beside the binary: the README quotes first-run costs from it.
 */
async function cachedBuild(
  name: string,
  version: string,
  bin: string,
  say: Say,
  expected: string,
  build: (staging: string) => Promise<void>,
): Promise<string> {
  const dir = toolDir(name, version);
  const target = join(dir, bin);
  if (existsSync(target)) return target;
  await mkdir(dir, { recursive: true });
  const staging = await mkdtemp(join(dir, '.build-'));
  const started = Date.now();
  say(`building ${name} ${version} with Go into ${dir} (once per machine, ${expected})`);
  try {
    await build(staging);
    await rename(join(staging, bin), target);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  const seconds = Math.round((Date.now() - started) / 1000);
  await writeFile(join(dir, 'build.json'), JSON.stringify({ name, version, seconds, builtAt: new Date().toISOString() }) + '\n');
  say(`built ${name} ${version} in ${seconds} s`);
  return target;
}

/** A throwaway module that requires `requires` and imports `imports` from tools.go, tidied, ready to `go build`. */
async function toolModule(dir: string, requires: string[], imports: string[], replaces: string[] = []): Promise<void> {
  await mkdir(dir, { recursive: true });
  const goMod = ['module jetsaga.local/tools', '', 'go 1.24', '', ...requires.map((line) => `require ${line}`), '', ...replaces, ''];
  await writeFile(join(dir, 'go.mod'), goMod.join('\n'));
  const tools = ['//go:build tools', '', 'package tools', '', 'import (', ...imports.map((path) => `\t_ "${path}"`), ')', ''];
  await writeFile(join(dir, 'tools.go'), tools.join('\n'));
  await go(['mod', 'tidy'], { cwd: dir });
}

/** helm: HELM_BIN, else a v3 helm on PATH, else the pinned version built with `go install` (about 50 s). */
export async function ensureHelm(say: Say = () => undefined): Promise<string> {
  if (process.env.HELM_BIN) return process.env.HELM_BIN;
  const onPath = semver(await versionLine('helm', ['version', '--short']));
  if (onPath?.startsWith('3.') && compareVersions(onPath, '3.14.0') >= 0) return 'helm';
  return cachedBuild('helm', HELM_VERSION, 'helm', say, 'about 1 min', async (staging) => {
    await go(['install', `helm.sh/helm/v3/cmd/helm@v${HELM_VERSION}`], { env: { GOBIN: staging } });
  });
}

/** etcd: ETCD_BIN, KUBEBUILDER_ASSETS, a 3.6 etcd on PATH, else built from a throwaway module (about 30 s). */
export async function ensureEtcd(say: Say = () => undefined): Promise<string> {
  if (process.env.ETCD_BIN) return process.env.ETCD_BIN;
  const candidates = [process.env.KUBEBUILDER_ASSETS && join(process.env.KUBEBUILDER_ASSETS, 'etcd'), 'etcd'].filter(Boolean) as string[];
  for (const candidate of candidates) {
    if (sameMinor(semver(await versionLine(candidate, ['--version'])), ETCD_VERSION)) return candidate;
  }
  return cachedBuild('etcd', ETCD_VERSION, 'etcd', say, 'about 30 s', async (staging) => {
    const module = join(staging, 'module');
    // `go install` refuses etcd (its go.mod has replace lines); a module that requires it builds fine.
    await toolModule(module, [`go.etcd.io/etcd/server/v3 v${ETCD_VERSION}`], ['go.etcd.io/etcd/server/v3']);
    await go(['build', '-o', join(staging, 'etcd'), 'go.etcd.io/etcd/server/v3'], { cwd: module });
  });
}

/**
 * The throwaway module that builds Kubernetes components at KUBERNETES_VERSION. k8s.io/kubernetes points its
 * staging modules at `./staging/...`, which a dependent module cannot see; each is replaced by its published
 * v0.<minor>.<patch> twin. Kept in the cache, so issue 9's other components (kubelet, scheduler, ...) reuse it.
 */
async function kubernetesModule(say: Say): Promise<string> {
  const dir = join(cacheDir(), 'tools', `kubernetes-module-${KUBERNETES_VERSION}`);
  if (existsSync(join(dir, 'go.sum'))) return dir;
  say(`preparing the k8s.io/kubernetes v${KUBERNETES_VERSION} build module in ${dir}`);
  const info = JSON.parse(await go(['mod', 'download', '-json', `k8s.io/kubernetes@v${KUBERNETES_VERSION}`])) as { GoMod: string };
  const upstream = await readFile(info.GoMod, 'utf8');
  const stagingVersion = `v0.${KUBERNETES_VERSION.split('.').slice(1).join('.')}`;
  const replaces = [...upstream.matchAll(/^\s*(k8s\.io\/[\w.-]+)\s+=>\s+\.\/staging\//gm)].map(
    ([, module]) => `replace ${module} => ${module} ${stagingVersion}`,
  );
  if (replaces.length === 0) throw new ToolBuildError(`no staging replacements found in ${info.GoMod}`);
  const building = await mkdtemp(join(cacheDir(), 'tools', '.kubernetes-module-'));
  try {
    await toolModule(
      building,
      [`k8s.io/kubernetes v${KUBERNETES_VERSION}`],
      ['k8s.io/kubernetes/cmd/kube-apiserver', 'k8s.io/kubernetes/cmd/kube-controller-manager', 'k8s.io/kubernetes/cmd/kube-scheduler'],
      replaces,
    );
    await rm(dir, { recursive: true, force: true });
    await rename(building, dir);
  } finally {
    await rm(building, { recursive: true, force: true });
  }
  return dir;
}

/** Builds one `k8s.io/kubernetes/cmd/<component>` with the version ldflags that helm and kubectl expect. */
export async function ensureKubernetesComponent(component: string, say: Say = () => undefined): Promise<string> {
  const [major, minor] = KUBERNETES_VERSION.split('.');
  return cachedBuild(component, KUBERNETES_VERSION, component, say, 'about 3 min cold, 30 s with a warm Go cache', async (staging) => {
    const module = await kubernetesModule(say);
    const ldflags = [
      `-X k8s.io/component-base/version.gitVersion=v${KUBERNETES_VERSION}`,
      `-X k8s.io/component-base/version.gitMajor=${major}`,
      `-X k8s.io/component-base/version.gitMinor=${minor}`,
    ].join(' ');
    await go(['build', '-ldflags', ldflags, '-o', join(staging, component), `k8s.io/kubernetes/cmd/${component}`], { cwd: module });
  });
}

/** kube-apiserver: KUBE_APISERVER_BIN, KUBEBUILDER_ASSETS (setup-envtest) at v1.36, else built (about 3 min cold). */
export async function ensureKubeApiserver(say: Say = () => undefined): Promise<string> {
  if (process.env.KUBE_APISERVER_BIN) return process.env.KUBE_APISERVER_BIN;
  if (process.env.KUBEBUILDER_ASSETS) {
    const candidate = join(process.env.KUBEBUILDER_ASSETS, 'kube-apiserver');
    if (sameMinor(semver(await versionLine(candidate, ['--version'])), KUBERNETES_VERSION)) return candidate;
  }
  return ensureKubernetesComponent('kube-apiserver', say);
}

/**
 * The Tiltfile lint: a small Go program (scripts/k8s-tools/tiltfile-lint) on go.starlark.net. Cached by a hash of
 * its sources, so editing the program rebuilds it and nothing else does.
 */
export async function ensureTiltfileLint(sourceDir: string, say: Say = () => undefined): Promise<string> {
  const hash = createHash('sha256');
  for (const file of ['go.mod', 'go.sum', 'main.go']) hash.update(await readFile(join(sourceDir, file)));
  const version = hash.digest('hex').slice(0, 12);
  return cachedBuild('tiltfile-lint', version, 'tiltfile-lint', say, 'about 20 s', async (staging) => {
    await go(['build', '-o', join(staging, 'tiltfile-lint'), '.'], { cwd: sourceDir });
  });
}
