import type { StoredEvent } from '../events/stored.js';
import { serviceOf } from '../owners.js';

export type SagaStep = {
  position: number;
  type: string;
  service: string;
  aggregateType: string;
  aggregateId: string;
  occurredAt: string;
  causationId: string;
  sinceStartMs: number;
  /** The order saga itself, or what follows the sale: the parcel (shipping) and complaints and refunds (support). */
  phase: SagaPhase;
};

export type SagaPhase = 'order' | 'shipping' | 'support';

/** Payment's answers to a refund request belong to the refund saga, not to the order's. */
const SUPPORT_TYPES = new Set(['RefundRequested', 'RefundRejected']);

function phaseOf(event: StoredEvent, service: string): SagaPhase {
  if (service === 'shipping' || service === 'support') return service;
  if (SUPPORT_TYPES.has(event.type) || (event.type === 'PaymentRefunded' && (event.data as { refundId?: unknown }).refundId))
    return 'support';
  // Inventory's answers to a reshipment are part of the parcel's story.
  if (event.type.startsWith('Reshipment')) return 'shipping';
  return 'order';
}

export type SagaTimeline = {
  correlationId: string;
  outcome: 'COMPLETED' | 'CANCELLED' | 'PENDING';
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  services: string[];
  steps: SagaStep[];
};

/**
 * A saga's story from its events. Stream order is causal order: a service publishes an effect only after it
 * consumed the cause, which was already in the stream.
 */
export function timeline(correlationId: string, events: readonly StoredEvent[]): SagaTimeline | undefined {
  const first = events[0];
  if (!first) return undefined;
  const start = Date.parse(first.occurredAt);
  const end = events.find((event) => event.type === 'OrderCompleted' || event.type === 'OrderCancelled');
  const outcome = end?.type === 'OrderCompleted' ? 'COMPLETED' : end ? 'CANCELLED' : 'PENDING';
  const steps = events.map((event) => ({
    position: event.position,
    type: event.type,
    service: serviceOf(event.aggregateType),
    phase: phaseOf(event, serviceOf(event.aggregateType)),
    aggregateType: event.aggregateType,
    aggregateId: event.aggregateId,
    occurredAt: event.occurredAt,
    causationId: event.causationId,
    sinceStartMs: Date.parse(event.occurredAt) - start,
  }));
  return {
    correlationId,
    outcome,
    startedAt: first.occurredAt,
    endedAt: end?.occurredAt ?? null,
    durationMs: end ? Date.parse(end.occurredAt) - start : null,
    services: [...new Set(steps.map((step) => step.service))],
    steps,
  };
}

/**
 * A Mermaid sequence diagram drawn from the real events: each arrow goes from the service that emitted the cause to
 * the service that emitted the effect; a step caused by a request comes from the client. The order saga's outcome is
 * noted where the order ended; what follows the sale (parcel, complaints, refunds) is noted as such.
 */
export function mermaid(saga: SagaTimeline, events: readonly StoredEvent[]): string {
  const serviceById = new Map(events.map((event) => [event.id, serviceOf(event.aggregateType)]));
  const lines = ['sequenceDiagram', '  autonumber', '  participant client'];
  for (const service of saga.services) lines.push(`  participant ${service}`);
  const endIndex = saga.steps.findIndex((step) => step.type === 'OrderCompleted' || step.type === 'OrderCancelled');
  let phase: SagaPhase = 'order';
  for (const [index, step] of saga.steps.entries()) {
    if (step.phase !== phase && step.phase !== 'order')
      lines.push(`  Note over ${step.service}: ${step.phase === 'shipping' ? 'the parcel' : 'complaints and refunds'}`);
    phase = step.phase;
    const from = serviceById.get(step.causationId) ?? 'client';
    const label = `${step.type} (+${step.sinceStartMs} ms)`;
    lines.push(`  ${from}->>${step.service}: ${label}`);
    if (index === endIndex && saga.outcome !== 'PENDING') {
      lines.push(`  Note over ${step.service}: saga ${saga.outcome} in ${saga.durationMs} ms`);
    }
  }
  return `${lines.join('\n')}\n`;
}
