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

  it('shows what follows the sale: the parcel, its complaint and the refund, each in its phase', () => {
    const reserved = stored('StockReserved', 'reservation', placed.id, 5);
    const accepted = stored('PaymentAccepted', 'payment', reserved.id, 8);
    const sold = stored('SaleConfirmed', 'sale', accepted.id, 10);
    const completed = stored('OrderCompleted', 'order', sold.id, 12);
    const parcel = stored('ShipmentCreated', 'shipment', sold.id, 13);
    const lost = stored('IncidentReported', 'shipment', 'request-2', 500);
    const complaint = stored('ComplaintOpened', 'complaint', lost.id, 510);
    const settled = stored('IncidentResolved', 'shipment', 'request-3', 900);
    const asked = stored('RefundRequested', 'refund', settled.id, 905);
    const refunded = { ...stored('PaymentRefunded', 'payment', asked.id, 910), data: { refundId: asked.aggregateId } };
    const all = [placed, reserved, accepted, sold, completed, parcel, lost, complaint, settled, asked, refunded];
    const saga = timeline(correlationId, all);
    if (!saga) throw new Error('no saga');
    expect(saga).toMatchObject({ outcome: 'COMPLETED', durationMs: 12 });
    expect(saga.services).toEqual(['order', 'inventory', 'payment', 'sales', 'shipping', 'support']);
    expect(saga.steps.map((step) => step.phase)).toEqual([
      'order',
      'order',
      'order',
      'order',
      'order',
      'shipping',
      'shipping',
      'support',
      'shipping',
      'support',
      'support',
    ]);
    const diagram = mermaid(saga, all).split('\n');
    expect(diagram.indexOf('  Note over order: saga COMPLETED in 12 ms')).toBe(
      diagram.indexOf('  sales->>order: OrderCompleted (+12 ms)') + 1,
    );
    expect(diagram).toEqual(
      expect.arrayContaining([
        '  Note over shipping: the parcel',
        '  sales->>shipping: ShipmentCreated (+13 ms)',
        '  shipping->>support: ComplaintOpened (+510 ms)',
        '  Note over support: complaints and refunds',
        '  shipping->>support: RefundRequested (+905 ms)',
        '  support->>payment: PaymentRefunded (+910 ms)',
      ]),
    );
  });
});
