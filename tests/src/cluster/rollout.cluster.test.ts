import { waitFor } from '@jetsaga/devstack';
import { afterAll, describe, expect, it } from 'vitest';
import { type ClusterUnderTest, clusterUnderTest } from './cluster.js';
import { removeLoader, startLoad } from './load.js';
import { expectSettled, openLedger } from './settled.js';

const cluster: ClusterUnderTest = clusterUnderTest();
const { namespace, release } = cluster;
const LOADER = 'load-rollout';
const RATE = 3;
/** The front door and the service every saga request of the load lands on (carts and checkout are the order service's). */
const ROLLED = ['gateway', 'order'];

afterAll(async () => {
  await removeLoader(cluster, LOADER).catch(() => undefined);
  await cluster.close();
});

describe('a rollout under load: kubectl rollout restart of the gateway and the order service', () => {
  it('drops no request: every pod replaced, no 5xx and no broken connection, every saga ends and adds up', async () => {
    const ledger = await openLedger(cluster, 4, 20);
    const uids = async (name: string) =>
      (await cluster.get<{ items: Array<{ metadata: { uid: string; labels: Record<string, string> } }> }>(['-n', namespace, 'pods'])).items
        .filter((pod) => pod.metadata.labels['app.kubernetes.io/name'] === name)
        .map((pod) => pod.metadata.uid);
    const old = new Map(await Promise.all(ROLLED.map(async (name) => [name, await uids(name)] as const)));
    const load = await startLoad(cluster, {
      name: LOADER,
      rate: RATE,
      customers: [...ledger.balances.keys()],
      products: [...ledger.stock.keys()],
    });
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const started = Date.now();
    // One after the other, as a deploy of a new image would: the gateway, then the service behind it.
    for (const name of ROLLED) {
      await cluster.kubectl(['-n', namespace, 'rollout', 'restart', `deployment/${release}-${name}`]);
      await cluster.kubectl(['-n', namespace, 'rollout', 'status', `deployment/${release}-${name}`, '--timeout=300s']);
    }
    const rolloutMs = Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const result = await load.stop();
    // What the clients saw, before anything else is checked (a failed checkout may still have made its order).
    console.log(`[rollout] load: ${JSON.stringify({ ...result, orders: result.orders.length })}`);
    await removeLoader(cluster, LOADER);
    // `rollout status` returns once the new pods are available; an old pod may still be draining (Terminating until
    // its preStop delay and drain end). Every old pod goes within its grace period.
    for (const name of ROLLED) {
      await waitFor(
        `${name}: every old pod gone`,
        async () => ((await uids(name)).some((uid) => old.get(name)?.includes(uid)) ? undefined : true),
        120_000,
        500,
      );
    }
    const settled = await expectSettled(cluster, ledger, result.orders);
    console.log(
      `[rollout] restarted ${ROLLED.join(' then ')} in ${(rolloutMs / 1000).toFixed(1)} s under ${RATE} sagas/s: ${result.sagas} sagas ` +
        `(${JSON.stringify(settled.outcomes)}; ${settled.unanswered} placed whose answer was lost), ${result.requests} requests, ` +
        `${result.failed} failed (${result.timedOut} of them no answer in 20 s), ${result.throttled} throttled (429, sent again), ` +
        `slowest ${result.slowestMs} ms${result.failures.length ? `; failures: ${JSON.stringify(result.failures)}` : ''}`,
    );
    expect(result.sagas).toBeGreaterThan(0);
    // Nothing a drain is for: no 5xx from a pod going away (the gateway's 502 when an upstream closes a connection it
    // was reusing), no reset or closed connection. A request that got no answer within 20 s is counted apart and named
    // above: on two shared cores a few did while new pods started (docs/operations.md, "Upgrade").
    expect(result.failures.filter((failure) => !failure.error.startsWith('TimeoutError'))).toEqual([]);
    expect(result.failed - result.timedOut).toBe(0);
  });
});
