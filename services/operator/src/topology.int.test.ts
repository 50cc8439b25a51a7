import { fileURLToPath } from 'node:url';
import { adminCredentials, type NatsServer, startTestNats } from '@jetsaga/devstack';
import { connectNats, consumerDrift, ensureConsumer, type NatsConnection, operatorOwned } from '@jetsaga/platform';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { applyTopology, applyTopologyFrom, loadTopology } from './topology.js';

const TOPOLOGY = fileURLToPath(new URL('../../../k8s/topology', import.meta.url));

describe('npm start applies k8s/topology through the reconcile steps (real nats-server, no cluster)', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    nats = await startTestNats(inject('natsServerBin'), { auth: inject('natsAuth') });
    nc = await connectNats(nats.url, 'topology-test', adminCredentials(inject('natsAuth')));
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it('creates every stream and consumer as declared, each verified in sync', async () => {
    const applied = await applyTopologyFrom(nc, TOPOLOGY);
    // Every declaration of k8s/topology, streams first, in the files' order (a new service adds its consumers there).
    const declared = await loadTopology(TOPOLOGY);
    expect(applied.map((resource) => `${resource.kind}/${resource.name}`)).toEqual([
      ...declared.streams.map((stream) => `EventStream/${stream.metadata.name}`),
      ...declared.consumers.map((consumer) => `EventConsumer/${consumer.metadata.name}`),
    ]);
    expect(applied.map((resource) => resource.name)).toEqual(
      expect.arrayContaining(['events', 'order', 'sales', 'shipping', 'support-refunds']),
    );
    // Each consumer really is on the server afterwards.
    for (const { spec } of declared.consumers)
      expect((await jsm.consumers.info(spec.stream, spec.durableName)).name).toBe(spec.durableName);
    // Created in one pass, verified in the next.
    for (const resource of applied) expect(resource.passes, resource.name).toBe(2);
    const deadlines = await jsm.streams.info('DEADLINES');
    expect(deadlines.config).toMatchObject({ subjects: ['deadlines.>'], allow_msg_schedules: true, storage: 'file' });
    const order = await jsm.consumers.info('EVENTS', 'order');
    expect(order.config.filter_subjects).toEqual(['events.*.*.StockUnavailable', 'events.*.*.PaymentRefused', 'events.*.*.SaleConfirmed']);
    expect(order.config.max_deliver).toBe(6);
  });

  it('is idempotent: a second run changes nothing', async () => {
    const applied = await applyTopologyFrom(nc, TOPOLOGY);
    for (const resource of applied) expect([resource.name, resource.passes, resource.outcome.action]).toEqual([resource.name, 1, 'none']);
  });

  it('puts drifted JetStream state back: a narrowed filter, a lost consumer, a changed stream limit', async () => {
    await jsm.consumers.update('EVENTS', 'payment', { filter_subjects: ['events.*.*.StockReserved'] });
    await jsm.consumers.delete('EVENTS', 'sales');
    await jsm.streams.update('DEADLINES', { ...(await jsm.streams.info('DEADLINES')).config, max_age: 3_600_000_000_000 });
    const applied = await applyTopology(jsm, await loadTopology(TOPOLOGY));
    const passes = Object.fromEntries(applied.map((resource) => [resource.name, resource.passes]));
    expect(passes).toMatchObject({ payment: 2, sales: 2, deadlines: 2, events: 1, order: 1 });
    expect((await jsm.consumers.info('EVENTS', 'payment')).config.filter_subjects).toEqual([
      'events.*.*.StockReserved',
      'events.*.*.OrderCancelled',
      'events.*.*.RefundRequested',
    ]);
    expect((await jsm.consumers.info('EVENTS', 'sales')).config.durable_name).toBe('sales');
    expect((await jsm.streams.info('DEADLINES')).config.max_age).toBe(24 * 3_600_000_000_000);
  });

  it("lets a starting service bind to the operator's consumer without rewriting it, and create one that is missing", async () => {
    const spec = {
      stream: 'EVENTS',
      durable: 'payment',
      filterSubjects: ['events.*.*.StockReserved', 'events.*.*.OrderCancelled', 'events.*.*.RefundRequested'],
    };
    const before = (await jsm.consumers.info('EVENTS', 'payment')).config;
    expect(operatorOwned(before)).toBe(true);
    await ensureConsumer(jsm, { ...spec, maxAckPending: 7 });
    const after = (await jsm.consumers.info('EVENTS', 'payment')).config;
    expect(after).toEqual(before);
    expect(consumerDrift({ ...spec, maxAckPending: 7 }, after).map((drift) => drift.field)).toEqual(['max_ack_pending']);
    // Without the operator (a service's own consumer), the service creates it and keeps it at its spec.
    await jsm.consumers.delete('EVENTS', 'payment');
    await ensureConsumer(jsm, spec);
    expect(operatorOwned((await jsm.consumers.info('EVENTS', 'payment')).config)).toBe(false);
    await ensureConsumer(jsm, { ...spec, maxAckPending: 7 });
    expect((await jsm.consumers.info('EVENTS', 'payment')).config.max_ack_pending).toBe(7);
  });
});
