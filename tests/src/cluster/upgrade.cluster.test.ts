import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { waitFor } from '@jetsaga/devstack';
import { afterAll, describe, expect, it } from 'vitest';
import { type ClusterUnderTest, clusterUnderTest, isReady, pods } from './cluster.js';
import { removeLoader, startLoad } from './load.js';
import { expectSettled, forwardsReachable, openLedger } from './settled.js';

const run = promisify(execFile);
const cluster: ClusterUnderTest = clusterUnderTest();
const { namespace, release } = cluster;
const CRDS = fileURLToPath(new URL('../../../charts/operator/crds/', import.meta.url));
const LOADER = 'load-upgrade';
/** Sagas per second while the release is upgraded. */
const RATE = 2;

afterAll(async () => {
  await removeLoader(cluster, LOADER).catch(() => undefined);
  await cluster.close();
});

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run with npm run test:cluster (scripts/cluster/run.mjs)`);
  return value;
}

const helm = (...args: string[]) => run(env('JETSAGA_CLUSTER_HELM'), args, { env: process.env, timeout: 15 * 60_000, maxBuffer: 16 << 20 });

// First of the suites: scripts/cluster/run.mjs installed the chart of the commit in scripts/cluster/upgrade-from.txt.
describe(`helm upgrade from the chart at ${process.env.JETSAGA_CLUSTER_PREVIOUS_COMMIT?.slice(0, 12)} to the working tree's`, () => {
  it("upgrades with sagas running: every saga ends, stock and money add up, no dead letter, the CRDs are the chart's, helm test passes", async () => {
    const before = JSON.parse((await helm('history', release, '--namespace', namespace, '--output', 'json')).stdout) as Array<{
      revision: number;
      status: string;
    }>;
    expect(before.at(-1)?.status).toBe('deployed');
    const ledger = await openLedger(cluster, 4, 20);
    const load = await startLoad(cluster, {
      name: LOADER,
      rate: RATE,
      customers: [...ledger.balances.keys()],
      products: [...ledger.stock.keys()],
    });
    // Sagas under way before the upgrade starts.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const started = Date.now();
    const upgraded = await helm(
      'upgrade',
      release,
      env('JETSAGA_CLUSTER_CHART'),
      '--namespace',
      namespace,
      '--values',
      env('JETSAGA_CLUSTER_VALUES'),
      ...(JSON.parse(env('JETSAGA_CLUSTER_HELM_SETTINGS')) as string[]),
      '--wait',
      '--timeout',
      '10m',
    );
    const upgradeMs = Date.now() - started;
    // The upgrade may have rolled the Postgres pod the tests' port-forward stuck to.
    await forwardsReachable(cluster);
    expect(upgraded.stdout).toMatch(/has been upgraded/);
    // And a little after: sagas that start against the upgraded release.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const result = await load.stop();
    // What the clients saw, before anything else is checked (a failed checkout may still have made its order).
    console.log(`[upgrade] load: ${JSON.stringify({ ...result, orders: result.orders.length })}`);
    await removeLoader(cluster, LOADER);

    const history = JSON.parse((await helm('history', release, '--namespace', namespace, '--output', 'json')).stdout) as Array<{
      revision: number;
      status: string;
    }>;
    expect(history.at(-1)).toMatchObject({ revision: (before.at(-1)?.revision ?? 0) + 1, status: 'deployed' });
    expect((await pods(cluster)).filter((pod) => !isReady(pod)).map((pod) => pod.metadata.name)).toEqual([]);

    // The CRDs are the working tree's: the chart's hook replaced them (Helm itself never upgrades crds/).
    for (const file of (await readdir(CRDS)).filter((name) => name.endsWith('.yaml'))) {
      const crd = await cluster.get(['customresourcedefinition', file.replace(/\.yaml$/, '')]);
      const digest = createHash('sha256')
        .update(await readFile(join(CRDS, file)))
        .digest('hex');
      expect(crd.metadata.annotations?.['jetsaga.dev/crd-sha256'], file).toBe(digest);
    }

    expect(result.sagas).toBeGreaterThan(0);
    const settled = await expectSettled(cluster, ledger, result.orders);
    expect(settled.completed).toBeGreaterThan(0);
    const tested = await helm('test', release, '--namespace', namespace, '--timeout', '5m');
    expect(tested.stdout).toMatch(/Phase:\s+Succeeded/);
    // The hooks' pods (CRD upgrade, helm test) go once they succeeded: the next suites find only the release's.
    await waitFor('the hook pods to be gone', async () => ((await pods(cluster)).every(isReady) ? true : undefined), 120_000, 1_000);
    console.log(
      `[upgrade] helm upgrade --wait ${(upgradeMs / 1000).toFixed(1)} s; ${result.sagas} sagas checked out during ${(result.ms / 1000).toFixed(0)} s ` +
        `of load (${JSON.stringify(settled.outcomes)}; ${settled.unanswered} placed whose answer was lost), ${result.requests} requests, ` +
        `${result.failed} failed (${result.timedOut} of them no answer in 20 s), ${result.throttled} throttled (429, sent again), ` +
        `slowest ${result.slowestMs} ms${result.failures.length ? `; failures: ${JSON.stringify(result.failures)}` : ''}`,
    );
  });
});
