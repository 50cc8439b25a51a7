#!/usr/bin/env node
// `node scripts/k8s-tools/charts.mjs prepare`: makes charts/ installable in place (k8s/topology and observability/
// copied into the umbrella chart, `helm dependency build` for every chart). Run it before `helm install` or
// `helm template` by hand; the Tiltfile and the chart tests run it themselves.
import { ensureHelm, prepareCharts } from '../../packages/k8s-testbed/dist/index.js';

const say = (message) => console.log(`[charts] ${message}`);
const [command] = process.argv.slice(2);
if (command !== 'prepare') {
  console.error('usage: node scripts/k8s-tools/charts.mjs prepare');
  process.exit(2);
}
const helm = await ensureHelm(say);
const { dir } = await prepareCharts({ helm, say });
say(`ready: helm install jetsaga ${dir}/jetsaga`);
