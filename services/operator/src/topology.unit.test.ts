import { fileURLToPath } from 'node:url';
import {
  consumerConfig,
  consumerDrift,
  type ConsumerSpec,
  MANAGED_BY_METADATA,
  operatorOwned,
  redriveSpec,
  streamDrift,
  streamSpecs,
} from '@jetsaga/platform';
import { describe, expect, it } from 'vitest';
import { MANAGED_BY_METADATA as OPERATOR_MANAGED_BY } from './constants.js';
import { desiredConsumerConfig, desiredStreamConfig } from './desired.js';
import { eventConsumerSpec, eventStreamSpec, parseSpec } from './resources.js';
import { loadTopology, parseTopology, TopologyError } from './topology.js';

const TOPOLOGY = fileURLToPath(new URL('../../../k8s/topology', import.meta.url));

/** What each service declares in code (services/<name>/src/**\/reactions.ts), loaded as the services load it. */
async function serviceConsumerSpecs(): Promise<ConsumerSpec[]> {
  const modules: [string, string][] = [
    ['../../order/src/orders/reactions.ts', 'orderConsumers'],
    ['../../order/src/catalog/consumer.ts', 'catalogConsumers'],
    ['../../order/src/fulfilment/consumer.ts', 'fulfilmentConsumers'],
    ['../../inventory/src/reservations/reactions.ts', 'inventoryConsumers'],
    ['../../payment/src/payments/reactions.ts', 'paymentConsumers'],
    ['../../sales/src/sales/reactions.ts', 'salesConsumers'],
    ['../../support/src/consumers.ts', 'supportConsumers'],
    ['../../inventory/src/reshipments/reactions.ts', 'reshipmentConsumers'],
    ['../../shipping/src/shipments/reactions.ts', 'shippingConsumers'],
    ['../../notification/src/notifications/consumer.ts', 'notificationConsumers'],
    ['../../audit/src/entries/consumer.ts', 'auditConsumers'],
  ];
  const specs: ConsumerSpec[] = [];
  for (const [path, name] of modules) {
    const module = (await import(new URL(path, import.meta.url).href)) as Record<string, (deps: unknown) => { spec: ConsumerSpec }[]>;
    // Building the definitions touches no dependency: handlers only use them when a message arrives.
    specs.push(...module[name]!({}).map((definition) => definition.spec));
  }
  const advisories = (await import(new URL('../../event-store/src/dlq/advisories.ts', import.meta.url).href)) as {
    advisoryConsumer: (deps: unknown) => { spec: ConsumerSpec };
  };
  specs.push(advisories.advisoryConsumer({}).spec);
  // Each consumer binds to its redrive consumer on DLQ too (EventConsumer.start), declared in k8s/topology/redrive.yaml.
  return [...specs, ...specs.map(redriveSpec)];
}

async function declaredStreams(replicas?: number) {
  return (await loadTopology(TOPOLOGY)).streams.map((stream) =>
    desiredStreamConfig(parseSpec(eventStreamSpec, replicas ? { ...stream.spec, replicas } : stream.spec)),
  );
}

async function declaredConsumers() {
  return new Map(
    (await loadTopology(TOPOLOGY)).consumers.map((consumer) => {
      const spec = parseSpec(eventConsumerSpec, consumer.spec);
      return [`${spec.stream}/${spec.durableName}`, desiredConsumerConfig(spec)];
    }),
  );
}

/**
 * k8s/topology is the topology's source: the operator reconciles it in a cluster, `npm start` and the bench apply it
 * through the same steps. What the code declares (streamSpecs, each service's ConsumerSpec) must ask for exactly the
 * same, or a service started without the operator would make a different topology; these tests fail on any drift.
 */
describe('k8s/topology', () => {
  it('declares exactly the streams the platform creates (streamSpecs), field for field, at every replica count', async () => {
    for (const replicas of [1, 3]) {
      const declared = await declaredStreams(replicas);
      const platform = streamSpecs(replicas);
      expect(declared.map((stream) => stream.name).sort()).toEqual(platform.map((stream) => stream.name).sort());
      for (const spec of platform) {
        const mine = declared.find((stream) => stream.name === spec.name)!;
        expect(streamDrift(spec, mine), `${spec.name} (R${replicas})`).toEqual([]);
      }
    }
  });

  it("declares exactly the services' consumers, with the filters, ack wait, max deliver, backoff and limits their code uses", async () => {
    const declared = await declaredConsumers();
    const inCode = await serviceConsumerSpecs();
    expect([...declared.keys()].sort()).toEqual(inCode.map((spec) => `${spec.stream}/${spec.durable}`).sort());
    for (const spec of inCode) {
      expect(consumerDrift(spec, declared.get(`${spec.stream}/${spec.durable}`)!), spec.durable).toEqual([]);
    }
  });

  it("marks the consumers it declares as the operator's, so services bind to them instead of rewriting them", async () => {
    expect(MANAGED_BY_METADATA).toBe(OPERATOR_MANAGED_BY);
    for (const config of (await declaredConsumers()).values()) expect(operatorOwned(config), config.durable_name).toBe(true);
    expect(operatorOwned(consumerConfig({ stream: 'EVENTS', durable: 'x', filterSubjects: ['events.>'] }))).toBe(false);
  });

  it('catches drift in any field: a filter, ack wait, max deliver, backoff, a limit, replicas, a stream limit', async () => {
    const [orderSpec] = await serviceConsumerSpecs();
    const order = (await declaredConsumers()).get(`${orderSpec!.stream}/${orderSpec!.durable}`)!;
    const drifted = (change: Partial<typeof order>) => consumerDrift(orderSpec!, { ...order, ...change }).map((drift) => drift.field);
    expect(drifted({ filter_subjects: order.filter_subjects.slice(1) })).toEqual(['filter_subjects']);
    expect(drifted({ ack_wait: order.ack_wait! * 2 })).toEqual(['ack_wait']);
    expect(drifted({ max_deliver: 3 })).toEqual(['max_deliver']);
    expect(drifted({ backoff: [1_000_000_000] })).toEqual(['backoff']);
    expect(drifted({ max_ack_pending: 1 })).toEqual(['max_ack_pending']);
    expect(consumerDrift({ ...orderSpec!, maxAttempts: 9 }, order).map((drift) => drift.field)).toEqual(['max_deliver']);

    const [events] = streamSpecs(1);
    const declared = (await declaredStreams()).find((stream) => stream.name === events!.name)!;
    expect(streamDrift(events!, { ...declared, num_replicas: 3 }).map((drift) => drift.field)).toEqual(['num_replicas']);
    expect(streamDrift(events!, { ...declared, max_bytes: 1 << 30 }).map((drift) => drift.field)).toEqual(['max_bytes']);
    expect(streamDrift(events!, { ...declared, subjects: ['events.order.>'] }).map((drift) => drift.field)).toEqual(['subjects']);
    expect(streamDrift({ ...events!, max_age: 1 }, declared).map((drift) => drift.field)).toEqual(['max_age']);
  });

  it("sends every consumer dead letters to the DLQ stream under dlq.<durable> (a redrive consumer, its own consumer's)", async () => {
    for (const consumer of (await loadTopology(TOPOLOGY)).consumers) {
      const durable = consumer.spec.durableName.replace(/-redrive$/, '');
      expect(consumer.spec.deadLetter).toEqual({ stream: 'DLQ', subject: `dlq.${durable}` });
    }
  });

  it('refuses documents that are not jetsaga resources', () => {
    expect(() => parseTopology('apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\n')).toThrow(TopologyError);
    expect(() => parseTopology('apiVersion: jetsaga.dev/v1alpha1\nkind: Widget\nmetadata: { name: x }\n')).toThrow(/unknown kind/);
    expect(() => parseTopology('apiVersion: jetsaga.dev/v1alpha1\nkind: EventStream\nmetadata: {}\n')).toThrow(/metadata.name/);
  });
});
