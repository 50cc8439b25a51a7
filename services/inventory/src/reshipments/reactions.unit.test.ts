import { createEvent } from '@jetsaga/events';
import { givenReaction } from '@jetsaga/platform';
import { describe, expect, it } from 'vitest';
import { reshipmentReaction } from './reactions.js';
import { reshipmentDeltas } from './reshipment.js';

const orderId = '0190a000-0000-7000-8000-000000000b01';
const shipmentId = '0190a000-0000-7000-8000-000000000b02';
const incidentId = '0190a000-0000-7000-8000-000000000b03';
const lamp = '0190a000-0000-7000-8000-000000000b04';
const lines = [{ productId: lamp, quantity: 2, priceCents: 100 }];
const meta = { id: incidentId, occurredAt: '2026-12-02T00:00:00Z', correlationId: orderId, causationId: 'x', actor: 'test' };
const requested = createEvent(
  'ReshipmentRequested',
  shipmentId,
  { shipmentId, orderId, customerId: orderId, incidentId, lines, note: '' },
  meta,
);
const stock = (available: number) => new Map([[lamp, { available, reserved: 0 }]]);

describe('inventory reshipment reaction', () => {
  it("takes a replacement parcel's lines from available stock, once per incident", () => {
    const outcome = givenReaction(reshipmentReaction, { shared: stock(2) }).when(requested);
    expect(outcome).toMatchObject({
      id: incidentId,
      events: [{ type: 'ReshipmentStockReserved', data: { shipmentId, incidentId, orderId, lines } }],
    });
    if (outcome.error || outcome.ignored) throw new Error('no outcome');
    expect(reshipmentDeltas(outcome.events[0]!)).toEqual([{ productId: lamp, available: -2, reserved: 0 }]);
    expect(givenReaction(reshipmentReaction, { state: outcome.state, shared: stock(2) }).when(requested)).toMatchObject({ events: [] });
  });

  it('reports the shortage and takes nothing when the stock is short', () => {
    const outcome = givenReaction(reshipmentReaction, { shared: stock(1) }).when(requested);
    expect(outcome).toMatchObject({
      events: [
        {
          type: 'ReshipmentStockUnavailable',
          data: { reason: 'OUT_OF_STOCK', shortages: [{ productId: lamp, requested: 2, available: 1 }] },
        },
      ],
    });
    if (outcome.error || outcome.ignored) throw new Error('no outcome');
    expect(reshipmentDeltas(outcome.events[0]!)).toEqual([]);
  });
});
