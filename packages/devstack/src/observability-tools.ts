import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { cachedTool, go, goToolModule, semver, toolDir, toolOutput } from './go-build.js';
import { cacheDir, compareVersions, type Say } from './tools.js';

/** Jaeger v2 stands in for Tempo on a machine: same OTLP in, and an HTTP API to read a trace back. */
export const JAEGER_VERSION = '1.76.0';
/** Debian 12's Prometheus; anything from 2.40 on has the API and promtool features the checks use. */
export const PROMETHEUS_MINIMUM = '2.40.0';

function spawnChecked(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv }, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (error) => reject(new Error(`${what}: cannot run ${command}`, { cause: error })));
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${what}: ${command} ${args.join(' ')} exited with ${code}\n${tail}`)),
    );
  });
}

/**
 * Finds Jaeger v2: JAEGER_BIN, else the pinned version from the cache, else builds it from the Go module proxy
 * into the cache (about 3 minutes with an empty Go cache, once per machine). `go install` refuses the module because
 * of its replace lines, so the build goes through a throwaway module that requires it.
 */
export async function ensureJaeger(say: Say = () => undefined): Promise<string> {
  if (process.env.JAEGER_BIN) return process.env.JAEGER_BIN;
  return cachedTool({
    name: 'jaeger',
    version: JAEGER_VERSION,
    say,
    expected: 'about 3 min',
    build: async (staging) => {
      // The checksum database has no entries for these module paths here; the proxy still serves them.
      const env = { GOFLAGS: '-mod=mod', GONOSUMDB: 'go.opentelemetry.io/collector,github.com/open-telemetry' };
      await goToolModule(staging, {
        module: 'jetsaga.local/jaeger-build',
        requires: [`github.com/jaegertracing/jaeger v${JAEGER_VERSION}`],
        imports: ['github.com/jaegertracing/jaeger/cmd/jaeger'],
        // The one replace line of Jaeger's own go.mod; without it the module graph does not resolve.
        replaces: ['replace github.com/Shopify/sarama => github.com/Shopify/sarama v1.33.0'],
        tidy: { args: ['-e'], env },
      });
      await go(['build', '-o', join(staging, 'jaeger'), 'github.com/jaegertracing/jaeger/cmd/jaeger'], { cwd: staging, env });
    },
  });
}

export type PrometheusTools = { prometheus: string; promtool: string; version: string };

async function prometheusVersion(bin: string): Promise<string | undefined> {
  return semver(await toolOutput(bin, ['--version']));
}

/**
 * Finds Prometheus and promtool: PROMETHEUS_BIN/PROMTOOL_BIN, else both on PATH when new enough, else Debian's
 * package unpacked into the cache (no service is installed or started; `apt-get update` runs first when the package
 * lists do not know it yet, which needs root, as in CI).
 */
export async function ensurePrometheus(say: Say = () => undefined): Promise<PrometheusTools> {
  if (process.env.PROMETHEUS_BIN && process.env.PROMTOOL_BIN) {
    const version = (await prometheusVersion(process.env.PROMETHEUS_BIN)) ?? 'unknown';
    return { prometheus: process.env.PROMETHEUS_BIN, promtool: process.env.PROMTOOL_BIN, version };
  }
  const onPath = await prometheusVersion('prometheus');
  if (onPath && compareVersions(onPath, PROMETHEUS_MINIMUM) >= 0 && (await toolOutput('promtool', ['--version']))) {
    return { prometheus: 'prometheus', promtool: 'promtool', version: onPath };
  }
  const cached = await cachedPrometheus();
  if (cached) return cached;
  let candidate = await aptCandidate('prometheus');
  if (!candidate) {
    say("apt-get update (Debian's package lists do not know prometheus yet)");
    await spawnChecked('apt-get', ['update'], { env: { DEBIAN_FRONTEND: 'noninteractive' } }, 'apt-get update');
    candidate = await aptCandidate('prometheus');
  }
  if (!candidate) throw new Error("Debian's package lists have no prometheus package; set PROMETHEUS_BIN and PROMTOOL_BIN");
  const version = semver(candidate) ?? candidate;
  const dir = toolDir('prometheus', version);
  say(`unpacking Debian's prometheus ${candidate} into ${dir} (once per machine)`);
  await mkdir(dir, { recursive: true });
  const staging = await mkdtemp(join(dir, '.unpack-'));
  try {
    await spawnChecked('apt-get', ['download', `prometheus=${candidate}`], { cwd: staging }, 'downloading prometheus');
    const deb = (await readdir(staging)).find((name) => name.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download left no .deb');
    await spawnChecked('dpkg-deb', ['-x', deb, 'root'], { cwd: staging }, 'unpacking prometheus');
    for (const tool of ['promtool', 'prometheus']) {
      // prometheus goes last: its presence marks the cache entry complete.
      await copyFile(join(staging, 'root', 'usr', 'bin', tool), join(staging, tool));
      await rename(join(staging, tool), join(dir, tool));
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return { prometheus: join(dir, 'prometheus'), promtool: join(dir, 'promtool'), version };
}

async function cachedPrometheus(): Promise<PrometheusTools | undefined> {
  const tools = join(cacheDir(), 'tools');
  const entries = existsSync(tools) ? await readdir(tools) : [];
  const versions = entries
    .filter((name) => name.startsWith('prometheus-'))
    .map((name) => name.slice('prometheus-'.length))
    .filter(
      (version) => compareVersions(version, PROMETHEUS_MINIMUM) >= 0 && existsSync(join(tools, `prometheus-${version}`, 'prometheus')),
    )
    .sort(compareVersions)
    .reverse();
  const version = versions[0];
  if (!version) return undefined;
  const dir = join(tools, `prometheus-${version}`);
  return { prometheus: join(dir, 'prometheus'), promtool: join(dir, 'promtool'), version };
}

async function aptCandidate(name: string): Promise<string | undefined> {
  const policy = await toolOutput('apt-cache', ['policy', name]);
  const candidate = policy && /Candidate:\s*(\S+)/.exec(policy)?.[1];
  return candidate && candidate !== '(none)' ? candidate : undefined;
}

/** Debian 12's Alertmanager (0.25): what routes the PrometheusRule alerts to people (notification's webhook). */
export const ALERTMANAGER_MINIMUM = '0.23.0';

async function alertmanagerVersion(bin: string): Promise<string | undefined> {
  return semver(await toolOutput(bin, ['--version']));
}

/**
 * Finds Alertmanager: ALERTMANAGER_BIN, else Debian's `prometheus-alertmanager` on PATH when new enough, else Debian's
 * package unpacked into the cache as prometheus is (apt-get download + dpkg-deb; no service installed or started).
 */
export async function ensureAlertmanager(say: Say = () => undefined): Promise<string> {
  if (process.env.ALERTMANAGER_BIN) return process.env.ALERTMANAGER_BIN;
  for (const name of ['prometheus-alertmanager', 'alertmanager']) {
    const version = await alertmanagerVersion(name);
    if (version && compareVersions(version, ALERTMANAGER_MINIMUM) >= 0) return name;
  }
  const tools = join(cacheDir(), 'tools');
  const cached = (existsSync(tools) ? await readdir(tools) : [])
    .filter((name) => name.startsWith('alertmanager-') && existsSync(join(tools, name, 'alertmanager')))
    .map((name) => name.slice('alertmanager-'.length))
    .filter((version) => compareVersions(version, ALERTMANAGER_MINIMUM) >= 0)
    .sort(compareVersions)
    .reverse()[0];
  if (cached) {
    await installTemplate(join(tools, `alertmanager-${cached}`), say);
    return join(tools, `alertmanager-${cached}`, 'alertmanager');
  }
  let candidate = await aptCandidate('prometheus-alertmanager');
  if (!candidate) {
    say("apt-get update (Debian's package lists do not know prometheus-alertmanager yet)");
    await spawnChecked('apt-get', ['update'], { env: { DEBIAN_FRONTEND: 'noninteractive' } }, 'apt-get update');
    candidate = await aptCandidate('prometheus-alertmanager');
  }
  if (!candidate) throw new Error("Debian's package lists have no prometheus-alertmanager package; set ALERTMANAGER_BIN");
  const version = semver(candidate) ?? candidate;
  const dir = toolDir('alertmanager', version);
  say(`unpacking Debian's prometheus-alertmanager ${candidate} into ${dir} (once per machine)`);
  await mkdir(dir, { recursive: true });
  const staging = await mkdtemp(join(dir, '.unpack-'));
  try {
    await spawnChecked(
      'apt-get',
      ['download', `prometheus-alertmanager=${candidate}`],
      { cwd: staging },
      'downloading prometheus-alertmanager',
    );
    const deb = (await readdir(staging)).find((name) => name.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download left no .deb');
    await spawnChecked('dpkg-deb', ['-x', deb, 'root'], { cwd: staging }, 'unpacking prometheus-alertmanager');
    // Debian's build reads its notification templates from this fixed path: kept beside the binary too.
    for (const template of TEMPLATES) await copyFile(join(staging, 'root', TEMPLATE_DIR, template), join(dir, template));
    // amtool first: the alertmanager binary's presence marks the cache entry complete.
    await copyFile(join(staging, 'root', 'usr', 'bin', 'amtool'), join(staging, 'amtool'));
    await rename(join(staging, 'amtool'), join(dir, 'amtool'));
    await copyFile(join(staging, 'root', 'usr', 'bin', 'prometheus-alertmanager'), join(staging, 'alertmanager'));
    await rename(join(staging, 'alertmanager'), join(dir, 'alertmanager'));
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  await installTemplate(dir, say);
  return join(dir, 'alertmanager');
}

/** Where Debian's Alertmanager looks for default.tmpl (compiled in; without it the configuration is refused). */
const TEMPLATE_DIR = 'usr/share/prometheus/alertmanager';

const TEMPLATES = ['default.tmpl', 'email.tmpl'];

/** Puts the cached templates where Debian's binary reads them, when the package is not installed (root, as in CI). */
async function installTemplate(dir: string, say: Say): Promise<void> {
  if (TEMPLATES.every((template) => existsSync(join('/', TEMPLATE_DIR, template)))) return;
  if (!TEMPLATES.every((template) => existsSync(join(dir, template)))) {
    const staging = await mkdtemp(join(dir, '.template-'));
    try {
      await spawnChecked('apt-get', ['download', 'prometheus-alertmanager'], { cwd: staging }, 'downloading prometheus-alertmanager');
      const deb = (await readdir(staging)).find((name) => name.endsWith('.deb'));
      if (!deb) throw new Error('apt-get download left no .deb');
      await spawnChecked('dpkg-deb', ['-x', deb, 'root'], { cwd: staging }, 'unpacking prometheus-alertmanager');
      for (const template of TEMPLATES) await copyFile(join(staging, 'root', TEMPLATE_DIR, template), join(dir, template));
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
  say(`installing Alertmanager's templates in /${TEMPLATE_DIR} (Debian's binary reads them there)`);
  await mkdir(join('/', TEMPLATE_DIR), { recursive: true });
  for (const template of TEMPLATES) await copyFile(join(dir, template), join('/', TEMPLATE_DIR, template));
}
