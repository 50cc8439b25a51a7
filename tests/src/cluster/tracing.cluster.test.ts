import { waitFor } from '@jetsaga/devstack';
import { afterAll, describe, expect, it } from 'vitest';
import type { Order } from '../support/api.js';
import { fetchTrace, type TraceSpan } from '../support/observability.js';
import { sagaChecks } from '../support/saga-checks.js';
import { type ClusterUnderTest, clusterUnderTest } from './cluster.js';

// Tracing as it runs in pods: the chart preloads the OpenTelemetry SDK because values-ci.yaml sets an OTLP endpoint
// (the run's Jaeger in its own namespace). Each saga is read back from Jaeger's HTTP API through a port-forward, and
// its trace id is found on the saga histogram's exemplars (the order pod's metrics port) and in the pods' logs.
const cluster: ClusterUnderTest = clusterUnderTest();
const checks = sagaChecks(cluster.api);
const jaegerUrl = required('JETSAGA_CLUSTER_JAEGER_URL');
const orderMetricsUrl = required('JETSAGA_CLUSTER_ORDER_METRICS_URL');

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the cluster tests with npm run test:cluster (scripts/cluster/run.mjs)`);
  return value;
}

afterAll(async () => {
  await cluster.close();
});

/** The saga's trace once it holds a span of every service named, its span count settled (spans come in batches). */
async function traceWith(traceId: string, services: string[]): Promise<TraceSpan[]> {
  let previous = -1;
  return waitFor(
    `trace ${traceId} with spans of ${services.join(', ')}`,
    async () => {
      const spans = await fetchTrace(jaegerUrl, traceId);
      const seen = new Set(spans.map((span) => span.service));
      const settled = spans.length === previous;
      previous = spans.length;
      return services.every((service) => seen.has(service)) && settled ? spans : undefined;
    },
    60_000,
    500,
  );
}

/** An exemplar of `jetsaga_saga_duration_seconds` that carries `traceId`, in the order pod's OpenMetrics exposition. */
async function exemplarOf(traceId: string): Promise<string> {
  return waitFor(
    `an exemplar of trace ${traceId} on the saga histogram`,
    async () => {
      const text = await (await fetch(orderMetricsUrl, { signal: AbortSignal.timeout(5000) })).text();
      return text
        .split('\n')
        .find((line) => line.startsWith('jetsaga_saga_duration_seconds_bucket{') && line.includes(`trace_id="${traceId}"`));
    },
    30_000,
    500,
  );
}

/** The JSON log lines of a deployment's pod that name `traceId`. */
async function logLinesOf(deployment: string, traceId: string): Promise<Array<Record<string, unknown>>> {
  return waitFor(
    `a log line of ${deployment} with trace_id ${traceId}`,
    async () => {
      const logs = await cluster.kubectl(['-n', cluster.namespace, 'logs', `deployment/${cluster.release}-${deployment}`, '--tail=-1']);
      const lines = logs
        .split('\n')
        .filter((line) => line.startsWith('{') && line.includes(traceId))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      return lines.length > 0 ? lines : undefined;
    },
    30_000,
    1000,
  );
}

async function expectTraced(order: Order, services: string[], logged: string[]): Promise<void> {
  expect(order.traceId, 'GET /api/orders/:id returns the trace id').toMatch(/^[0-9a-f]{32}$/);
  const traceId = order.traceId as string;
  const spans = await traceWith(traceId, services);
  const root = spans.filter((span) => span.parentId === undefined);
  expect(
    root.map((span) => `${span.service} ${span.kind}`),
    'the trace starts at the gateway',
  ).toEqual(['gateway server']);
  const tagged = spans.filter((span) => span.tags['jetsaga.correlation_id'] !== undefined);
  expect(tagged.length).toBeGreaterThan(0);
  for (const span of tagged) expect(span.tags['jetsaga.correlation_id'], span.name).toBe(order.correlationId);
  expect(await exemplarOf(traceId)).toMatch(new RegExp(`outcome="${order.status}"`));
  for (const deployment of logged) {
    const lines = await logLinesOf(deployment, traceId);
    expect(
      lines.some((line) => line.trace_id === traceId && typeof line.span_id === 'string'),
      deployment,
    ).toBe(true);
  }
}

describe('one saga, one trace, from pods', () => {
  it('completed: spans of the gateway and every service, the exemplar, the pods log lines', async () => {
    const order = await checks.completed();
    await expectTraced(order, ['gateway', 'order', 'inventory', 'payment', 'sales', 'event-store'], ['inventory', 'payment']);
  });

  it('out of stock: spans of the gateway, order, inventory and event store', async () => {
    const order = await checks.outOfStock();
    await expectTraced(order, ['gateway', 'order', 'inventory', 'event-store'], ['inventory']);
  });

  it('payment refused: spans of the gateway, order, inventory, payment and event store', async () => {
    const order = await checks.paymentRefused();
    await expectTraced(order, ['gateway', 'order', 'inventory', 'payment', 'event-store'], ['inventory', 'payment']);
  });
});
