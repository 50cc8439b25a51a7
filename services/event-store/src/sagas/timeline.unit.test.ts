import { uuidv7 } from '@jetsaga/events';
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../events/stored.js';
import { mermaid, timeline } from './timeline.js';

const correlationId = uuidv7();
const orderId = uuidv7();
let position = 100;
function stored(type: string, aggregateType: string, causationId: string, ms: number): StoredEvent {
  return {
    position: position++,
    id: uuidv7(),
    type,
    schemaVersion: 1,
    aggregateType,
    aggregateId: orderId,
    occurredAt: new Date(Date.UTC(2026, 10, 21, 10, 0, 0, ms)).toISOString(),
    correlationId,
    causationId,
    actor: 'test',
    data: {},
  };
}

describe('saga timeline', () => {
  const placed = stored('OrderPlaced', 'order', 'request-1', 0);
  const unavailable = stored('StockUnavailable', 'reservation', placed.id, 12);
  const cancelled = stored('OrderCancelled', 'order', unavailable.id, 20);
  const events = [placed, unavailable, cancelled];

  it('tells the outcome, duration, services and steps in causal order', () => {
    const saga = timeline(correlationId, events);
    expect(saga).toMatchObject({
      correlationId,
      outcome: 'CANCELLED',
      startedAt: placed.occurredAt,
      endedAt: cancelled.occurredAt,
      durationMs: 20,
      services: ['order', 'inventory'],
    });
    expect(saga?.steps.map((step) => [step.type, step.service, step.sinceStartMs])).toEqual([
      ['OrderPlaced', 'order', 0],
      ['StockUnavailable', 'inventory', 12],
      ['OrderCancelled', 'order', 20],
    ]);
  });

  it('is PENDING until the order ends', () => {
    expect(timeline(correlationId, [placed])).toMatchObject({ outcome: 'PENDING', endedAt: null, durationMs: null });
    expect(timeline(correlationId, [])).toBeUndefined();
  });

  it('draws arrows from the cause to the effect', () => {
    const saga = timeline(correlationId, events);
    if (!saga) throw new Error('no saga');
    const diagram = mermaid(saga, events);
    expect(diagram.split('\n')).toEqual(
      expect.arrayContaining([
        'sequenceDiagram',
        '  client->>order: OrderPlaced (+0 ms)',
        '  order->>inventory: StockUnavailable (+12 ms)',
        '  inventory->>order: OrderCancelled (+20 ms)',
        '  Note over order: saga CANCELLED in 20 ms',
      ]),
    );
  });
});
