#!/usr/bin/env node
// Builds (once per machine) or finds the tools the Kubernetes checks use, and prints how long each took.
// `node scripts/k8s-tools/ensure.mjs [helm] [etcd] [kube-apiserver] [tiltfile-lint]` (all when none is named).
import { fileURLToPath } from 'node:url';
import { ensureEtcd, ensureHelm, ensureKubeApiserver, ensureTiltfileLint } from '../../packages/k8s-testbed/dist/index.js';

const say = (message) => console.log(`[k8s-tools] ${message}`);
const lintSource = fileURLToPath(new URL('./tiltfile-lint', import.meta.url));
const tools = {
  helm: () => ensureHelm(say),
  etcd: () => ensureEtcd(say),
  'kube-apiserver': () => ensureKubeApiserver(say),
  'tiltfile-lint': () => ensureTiltfileLint(lintSource, say),
};
const wanted = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(tools);
// One build at a time: the machine has two cores and Go already uses both.
for (const name of wanted) {
  const ensure = tools[name];
  if (!ensure) throw new Error(`unknown tool ${name}; known: ${Object.keys(tools).join(', ')}`);
  const started = Date.now();
  const bin = await ensure();
  say(`${name.padEnd(15)} ${bin} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
