import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureNatsServer, natsAuthFor, REPO_ROOT } from '@jetsaga/devstack';
import { ensureEtcd, ensureHelm, ensureKubeApiserver, ensureTiltfileLint, prepareCharts, startKubeApiserver } from '@jetsaga/k8s-testbed';
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';

const say = (message: string) => console.log(`[k8s set-up] ${message}`);

async function timed<T>(what: string, step: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const value = await step();
  say(`${what.padEnd(26)} ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return value;
}

/**
 * Once per run of the k8s project: the tools (built with Go into ~/.cache/jetsaga/tools on a machine's first run,
 * then reused), a prepared copy of charts/, and one etcd + kube-apiserver on loopback. Each test file works in its
 * own namespace. Tools are built one at a time: Go already uses both cores.
 */
export default async function setup(project: TestProject) {
  const started = Date.now();
  const helmBin = await timed('helm', () => ensureHelm(say));
  const etcdBin = await timed('etcd', () => ensureEtcd(say));
  const apiserverBin = await timed('kube-apiserver', () => ensureKubeApiserver(say));
  const tiltfileLintBin = await timed('tiltfile-lint', () => ensureTiltfileLint(join(REPO_ROOT, 'scripts/k8s-tools/tiltfile-lint'), say));
  const natsServerBin = await timed('nats-server', () => ensureNatsServer(say));
  const work = await mkdtemp(join(tmpdir(), 'jetsaga-k8s-'));
  const charts = await timed('charts (dependency build)', () => prepareCharts({ helm: helmBin, target: join(work, 'charts') }));
  const server = await timed('etcd + kube-apiserver', () => startKubeApiserver({ apiserverBin, etcdBin, dir: join(work, 'cluster') }));
  say(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${server.url} (logs in ${join(work, 'cluster')})`);

  project.provide('kube', { url: server.url, token: server.token, caPem: server.caPem, kubeconfig: server.kubeconfig });
  project.provide('helmBin', helmBin);
  project.provide('chartsDir', charts.dir);
  project.provide('tiltfileLintBin', tiltfileLintBin);
  project.provide('natsServerBin', natsServerBin);
  project.provide('natsAuth', await natsAuthFor());
  return async () => {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  };
}
