import { createEvent, type DomainEvent, uuidv7 } from '@jetsaga/events';
import { describe, expect, it } from 'vitest';
import { addressRows } from './projection.js';

const meta = () => ({ id: uuidv7(), occurredAt: '2026-12-03T15:00:00.000Z', correlationId: uuidv7(), causationId: 'c', actor: 'test' });
const customerId = uuidv7();
const orderId = uuidv7();
const home = { line1: '1 rue de la Paix', city: 'Paris', postalCode: '75002', country: 'FR' };

describe("shipping's read model of addresses", () => {
  it("keeps the customer's and the checkout's addresses, the checkout with its customer", () => {
    const events: DomainEvent[] = [
      createEvent('CustomerRegistered', customerId, { customerId, name: 'n', email: 'e', balanceCents: 0, address: home }, meta()),
      createEvent(
        'OrderPlaced',
        orderId,
        {
          orderId,
          cartId: uuidv7(),
          customerId,
          lines: [{ productId: uuidv7(), quantity: 1, priceCents: 1 }],
          totalCents: 1,
          deadlineAt: '2026-12-03T15:00:30.000Z',
          shippingAddress: { ...home, line1: '2 quai' },
        },
        meta(),
      ),
    ];
    const rows = addressRows(events);
    expect(rows.customers.get(customerId)).toEqual(home);
    expect(rows.orders.get(orderId)).toEqual({ customerId, address: { ...home, line1: '2 quai' } });
    expect(rows.erased.size).toBe(0);
  });

  it('names the customers an erasure scrubs, after what came before it in the batch', () => {
    const rows = addressRows([
      createEvent('CustomerRegistered', customerId, { customerId, name: 'n', email: 'e', balanceCents: 0, address: home }, meta()),
      createEvent('CustomerErased', customerId, { customerId, erasedAt: '2026-12-03T15:00:00.000Z' }, meta()),
    ]);
    expect([...rows.erased]).toEqual([customerId]);
  });
});
