import { waitFor } from '@jetsaga/devstack';
import { EVENTS_STREAM } from '@jetsaga/events';
import { jetstreamManager } from '@nats-io/jetstream';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type ClusterUnderTest, clusterUnderTest, podsOf } from './cluster.js';
import { expectMirrorVerifies, expectSettled, openLedger } from './settled.js';

const cluster: ClusterUnderTest = clusterUnderTest();
const { api, namespace, release } = cluster;
const jobs: string[] = [];

afterAll(async () => {
  // Jobs made from the CronJobs are not the release's: the uninstall test must not find them.
  for (const job of jobs)
    await cluster.kubectl(['-n', namespace, 'delete', 'job', job, '--ignore-not-found', '--wait=true']).catch(() => undefined);
  await cluster.close();
});

type Deployment = {
  metadata: { name: string };
  spec: { replicas: number; template: { spec: { containers: Array<{ env?: Array<{ name: string }> }> } } };
};

/** `kubectl create job --from=cronjob/<release>-<cronJob>`, as docs/operations.md says, to its end; its tagged report line. */
async function runJob(cronJob: 'backup' | 'restore', name: string): Promise<{ report: any; ms: number }> {
  const started = Date.now();
  await cluster.kubectl(['-n', namespace, 'create', 'job', name, `--from=cronjob/${release}-${cronJob}`]);
  jobs.push(name);
  const outcome = await waitFor(
    `job ${name} to finish`,
    async () => {
      const job = await cluster.get(['-n', namespace, 'job', name]);
      const condition = (job.status?.conditions ?? []).find(
        (c: { type: string; status: string }) => ['Complete', 'Failed'].includes(c.type) && c.status === 'True',
      );
      return condition?.type as string | undefined;
    },
    600_000,
    1_000,
  );
  if (outcome === 'Failed')
    throw new Error(`job ${name} failed:\n${await cluster.kubectl(['-n', namespace, 'logs', `job/${name}`]).catch(String)}`);
  const ms = Date.now() - started;
  const logs = await cluster.kubectl(['-n', namespace, 'logs', `job/${name}`]);
  const tag = `${cronJob.toUpperCase()} `;
  const line = logs.split('\n').find((entry) => entry.startsWith(tag));
  if (!line) throw new Error(`job ${name} printed no report:\n${logs}`);
  return { report: JSON.parse(line.slice(tag.length)), ms };
}

/** The stream's digest over positions 1..to, as the event store computes it (positions and payloads). */
async function streamDigest(to: number): Promise<{ count: number; hash: string }> {
  const response = await api.call('GET', `/api/event-store/verify?fromPosition=1&toPosition=${to}`);
  expect(response.status).toBe(200);
  return response.body.stream;
}

describe('backup and restore drill (late: it destroys the data and restores it)', () => {
  it('backs up EVENTS and Postgres, loses both, restores: the mirror verifies, every position and balance is as it was', async () => {
    // Something to lose: sagas that ended, with their stock and money settled.
    const ledger = await openLedger(cluster, 3, 10, 50);
    const customers = [...ledger.balances.keys()];
    const products = [...ledger.stock.keys()];
    const orders = await Promise.all(
      Array.from({ length: 12 }, (_, i) => api.buy(customers[i % customers.length] as string, products[i % products.length] as string, 1)),
    );
    await expectSettled(cluster, ledger, orders);
    const balances = new Map(await Promise.all(customers.map(async (id) => [id, (await api.getCustomer(id)).balanceCents] as const)));
    const stock = new Map(await Promise.all(products.map(async (id) => [id, (await api.getProduct(id)).available] as const)));

    // 1. The scheduled backup, run now.
    const backup = await runJob('backup', 'backup-drill');
    const manifest = backup.report;
    expect(manifest.events.messages).toBeGreaterThan(0);
    expect(manifest.events.firstSeq).toBe(1);
    expect(manifest.postgres.rows).toBeGreaterThan(0);
    const before = await streamDigest(manifest.events.lastSeq);
    expect(before.count).toBe(manifest.events.messages);

    // 2. Disaster: the services stop (as for any restore), the EVENTS stream and the whole database are gone.
    const deployments = (await cluster.get<{ items: Deployment[] }>(['-n', namespace, 'deployments'])).items.filter((deployment) =>
      deployment.spec.template.spec.containers.some((container) => container.env?.some((variable) => variable.name === 'DATABASE_URL')),
    );
    expect(deployments.length).toBeGreaterThanOrEqual(9);
    for (const deployment of deployments)
      await cluster.kubectl(['-n', namespace, 'scale', `deployment/${deployment.metadata.name}`, '--replicas=0']);
    await waitFor(
      'the services to stop',
      async () => {
        for (const deployment of deployments) {
          const name = deployment.metadata.name.slice(release.length + 1);
          if ((await podsOf(cluster, name)).length > 0) return undefined;
        }
        return true;
      },
      180_000,
      1_000,
    );
    const jsm = await jetstreamManager(await cluster.nats());
    const created = (await jsm.streams.info(EVENTS_STREAM)).created;
    await jsm.streams.delete(EVENTS_STREAM);
    const url = new URL(process.env.JETSAGA_CLUSTER_DATABASE_URL as string);
    const database = url.pathname.slice(1);
    const admin = new pg.Client({ connectionString: Object.assign(new URL(url), { pathname: '/postgres' }).toString() });
    await admin.connect();
    const owner = (
      await admin.query<{ owner: string }>('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [database])
    ).rows[0]?.owner as string;
    await admin.query(`DROP DATABASE "${database}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${database}" OWNER "${owner}"`);
    await admin.end();
    // The operator makes EVENTS again (its EventStream is still declared): a new, empty stream.
    const fresh = await waitFor(
      'the operator to create EVENTS again',
      async () => {
        const info = await jsm.streams.info(EVENTS_STREAM).catch(() => undefined);
        return info && info.created !== created ? info : undefined;
      },
      180_000,
      1_000,
    );
    expect(fresh.state).toMatchObject({ messages: 0, last_seq: 0 });

    // 3. Restore (the newest complete backup), then the services start again.
    const restore = await runJob('restore', 'restore-drill');
    expect(restore.report.events).toMatchObject({ messages: manifest.events.messages, lastSeq: manifest.events.lastSeq });
    expect(restore.report.postgres.rows).toBe(
      manifest.postgres.tables
        .filter((table: { table: string }) => !table.table.endsWith('.schema_migrations'))
        .reduce((sum: number, table: { rows: number }) => sum + table.rows, 0),
    );
    const restarted = Date.now();
    for (const deployment of deployments)
      await cluster.kubectl(['-n', namespace, 'scale', `deployment/${deployment.metadata.name}`, `--replicas=${deployment.spec.replicas}`]);
    for (const deployment of deployments)
      await cluster.kubectl(['-n', namespace, 'rollout', 'status', `deployment/${deployment.metadata.name}`, '--timeout=300s']);
    const servingMs = Date.now() - restarted;

    // 4. Every event at its old position with its old payload; the mirror (restored from Postgres) verifies against
    //    the restored stream; balances and stock are what they were; and the system goes on: a new saga completes.
    expect(await streamDigest(manifest.events.lastSeq)).toEqual(before);
    await expectMirrorVerifies(cluster);
    for (const [id, balance] of balances) expect((await api.getCustomer(id)).balanceCents, `customer ${id}`).toBe(balance);
    for (const [id, available] of stock) expect((await api.getProduct(id)).available, `product ${id}`).toBe(available);
    await expectSettled(cluster, ledger, orders);
    const after = await api.buy(customers[1] as string, products[0] as string, 1);
    expect((await api.terminal(after, 120_000)).status).toBe('COMPLETED');
    await expectMirrorVerifies(cluster);
    console.log(
      `[backup] backup ${(backup.ms / 1000).toFixed(1)} s: ${manifest.events.messages} events (${manifest.events.gzipBytes} B gzip), ` +
        `${manifest.postgres.rows} rows in ${manifest.postgres.tables.length} tables (${manifest.postgres.gzipBytes} B gzip); ` +
        `restore job ${(restore.ms / 1000).toFixed(1)} s (postgres ${restore.report.postgres.rows} rows ${(restore.report.postgres.ms / 1000).toFixed(1)} s, ` +
        `EVENTS ${restore.report.events.messages} events ${(restore.report.events.ms / 1000).toFixed(1)} s), services serving again ${(servingMs / 1000).toFixed(1)} s later`,
    );
  });
});
