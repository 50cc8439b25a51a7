import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The operator's own metrics, on its `metrics` port; one registry per operator so tests can run two. */
export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: 'jetsaga_operator_reconcile_total',
    help: 'Reconcile passes by kind and what the pass did (created, updated, none, blocked, deleted, error).',
    labelNames: ['kind', 'action'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'jetsaga_operator_reconcile_duration_seconds',
    help: 'Duration of one reconcile pass.',
    labelNames: ['kind'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly ready = new Gauge({
    name: 'jetsaga_operator_resources',
    help: 'Custom resources by kind and Ready status as of their last pass.',
    labelNames: ['kind', 'ready'] as const,
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'jetsaga_operator_leader',
    help: '1 while this instance holds the Lease and reconciles, 0 while it waits.',
    registers: [this.registry],
  });
  readonly leadershipLost = new Counter({
    name: 'jetsaga_operator_leadership_lost_total',
    help: 'Times this instance stopped leading because it could not renew its Lease before the renew deadline.',
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'jetsaga_operator_queue_depth',
    help: 'Resources waiting for a reconcile pass.',
    registers: [this.registry],
  });
}
