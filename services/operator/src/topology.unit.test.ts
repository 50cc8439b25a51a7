import { fileURLToPath } from 'node:url';
import { consumerConfig, type ConsumerSpec, streamSpecs } from '@jetsaga/platform';
import { describe, expect, it } from 'vitest';
import { desiredConsumerConfig, desiredStreamConfig } from './desired.js';
import { eventConsumerSpec, eventStreamSpec, parseSpec } from './resources.js';
import { loadTopology, parseTopology, TopologyError } from './topology.js';

const TOPOLOGY = fileURLToPath(new URL('../../../k8s/topology', import.meta.url));

/** What each service declares in code (services/<name>/src/**\/reactions.ts), loaded as the services load it. */
async function serviceConsumerSpecs(): Promise<ConsumerSpec[]> {
  const modules: [string, string][] = [
    ['../../order/src/orders/reactions.ts', 'orderConsumers'],
    ['../../inventory/src/reservations/reactions.ts', 'inventoryConsumers'],
    ['../../payment/src/payments/reactions.ts', 'paymentConsumers'],
    ['../../sales/src/sales/reactions.ts', 'salesConsumers'],
  ];
  const specs: ConsumerSpec[] = [];
  for (const [path, name] of modules) {
    const module = (await import(new URL(path, import.meta.url).href)) as Record<string, (deps: unknown) => { spec: ConsumerSpec }[]>;
    // Building the definitions touches no dependency: handlers only use them when a message arrives.
    specs.push(...module[name]!({}).map((definition) => definition.spec));
  }
  return specs;
}

describe('k8s/topology', () => {
  it('declares exactly the streams the platform creates (streamSpecs), field for field', async () => {
    const topology = await loadTopology(TOPOLOGY);
    const declared = topology.streams.map((stream) => desiredStreamConfig(parseSpec(eventStreamSpec, stream.spec)));
    const platform = streamSpecs(1);
    expect(declared.map((stream) => stream.name).sort()).toEqual(platform.map((stream) => stream.name).sort());
    for (const spec of platform) {
      const mine = declared.find((stream) => stream.name === spec.name)!;
      for (const [field, value] of Object.entries(spec)) {
        if (field === 'description') continue;
        expect(mine[field as keyof typeof mine] ?? false, `${spec.name}.${field}`).toEqual(value);
      }
    }
  });

  it("declares exactly the services' consumers, with the filters, ack wait, max deliver and limits their code uses", async () => {
    const topology = await loadTopology(TOPOLOGY);
    const declared = new Map(
      topology.consumers.map((consumer) => {
        const spec = parseSpec(eventConsumerSpec, consumer.spec);
        return [`${spec.stream}/${spec.durableName}`, desiredConsumerConfig(spec)];
      }),
    );
    const inCode = await serviceConsumerSpecs();
    expect([...declared.keys()].sort()).toEqual(inCode.map((spec) => `${spec.stream}/${spec.durable}`).sort());
    for (const spec of inCode) {
      const mine = declared.get(`${spec.stream}/${spec.durable}`)!;
      const theirs = consumerConfig(spec);
      for (const field of ['filter_subjects', 'ack_policy', 'deliver_policy', 'ack_wait', 'max_deliver', 'max_ack_pending'] as const) {
        expect(mine[field], `${spec.durable}.${field}`).toEqual(theirs[field]);
      }
    }
  });

  it('sends every consumer dead letters to the DLQ stream under dlq.<durable>', async () => {
    for (const consumer of (await loadTopology(TOPOLOGY)).consumers) {
      expect(consumer.spec.deadLetter).toEqual({ stream: 'DLQ', subject: `dlq.${consumer.spec.durableName}` });
    }
  });

  it('refuses documents that are not jetsaga resources', () => {
    expect(() => parseTopology('apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\n')).toThrow(TopologyError);
    expect(() => parseTopology('apiVersion: jetsaga.dev/v1alpha1\nkind: Widget\nmetadata: { name: x }\n')).toThrow(/unknown kind/);
    expect(() => parseTopology('apiVersion: jetsaga.dev/v1alpha1\nkind: EventStream\nmetadata: {}\n')).toThrow(/metadata.name/);
  });
});
