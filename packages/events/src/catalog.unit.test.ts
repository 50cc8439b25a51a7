import { describe, expect, it } from 'vitest';
import { catalog, createEvent, eventJsonSchemas, parseEvent } from './catalog.js';
import { InvalidEventError } from './envelope.js';
import { uuidv7 } from './ids.js';
import { aggregateFilter, eventSubject, eventTypeFilter, parseEventSubject } from './subjects.js';

const meta = () => ({
  id: uuidv7(),
  occurredAt: '2026-11-21T20:00:00.000Z',
  correlationId: uuidv7(),
  causationId: 'request-1',
  actor: 'test',
});
const orderId = uuidv7();

describe('event catalogue', () => {
  it('builds an envelope that parses back to the same event', () => {
    const event = createEvent('OrderCompleted', orderId, { orderId }, meta());
    expect(event).toMatchObject({ type: 'OrderCompleted', aggregateType: 'order', aggregateId: orderId, schemaVersion: 1 });
    expect(parseEvent(JSON.parse(JSON.stringify(event)))).toEqual(event);
  });

  it('refuses data that does not match the schema', () => {
    expect(() => createEvent('OrderCompleted', orderId, { orderId: 'not-a-uuid' }, meta())).toThrow(InvalidEventError);
  });

  it.each([
    ['not an object', 'hello'],
    ['an envelope without id', { type: 'OrderCompleted' }],
  ])('treats %s as poison', (_label, raw) => {
    expect(() => parseEvent(raw)).toThrow(InvalidEventError);
  });

  it('treats an unknown type, a wrong aggregate or a future schema version as poison', () => {
    const event = createEvent('OrderCompleted', orderId, { orderId }, meta());
    expect(() => parseEvent({ ...event, type: 'OrderTeleported' })).toThrow(/unknown event type/);
    expect(() => parseEvent({ ...event, aggregateType: 'cart' })).toThrow(/belongs to order/);
    expect(() => parseEvent({ ...event, schemaVersion: 99 })).toThrow(/newer than this reader/);
  });

  it('reads a customer and an order with or without a postal address, in the same schema version', () => {
    const customerId = uuidv7();
    const address = { line1: '1 rue de la Paix', city: 'Paris', postalCode: '75002', country: 'FR' };
    const registered = { customerId, name: 'A', email: 'a@example.org', balanceCents: 0 };
    for (const data of [registered, { ...registered, address }]) {
      const event = createEvent('CustomerRegistered', customerId, data, meta());
      expect(event.schemaVersion).toBe(1);
      expect(parseEvent(JSON.parse(JSON.stringify(event))).data).toEqual(data);
    }
    const lines = [{ productId: uuidv7(), quantity: 1, priceCents: 100 }];
    const placed = { orderId, cartId: uuidv7(), customerId, lines, totalCents: 100, deadlineAt: '2026-11-21T20:00:30Z' };
    const event = createEvent('OrderPlaced', orderId, { ...placed, shippingAddress: { ...address, line2: 'Bât. B' } }, meta());
    expect(event.data.shippingAddress?.line2).toBe('Bât. B');
    expect(() => createEvent('CustomerRegistered', customerId, { ...registered, address: { ...address, country: 'fr' } }, meta())).toThrow(
      InvalidEventError,
    );
  });

  it('declares every type once, with a JSON Schema for its data', () => {
    const types = catalog.map((definition) => definition.type);
    expect(new Set(types).size).toBe(types.length);
    const schemas = eventJsonSchemas();
    expect(Object.keys(schemas).sort()).toEqual([...types].sort());
    expect(schemas.OrderPlaced).toMatchObject({
      aggregateType: 'order',
      data: { type: 'object', required: expect.arrayContaining(['orderId', 'lines']) },
    });
  });
});

describe('subjects', () => {
  it('puts aggregate type, id and event type in the subject', () => {
    const subject = eventSubject('order', orderId, 'OrderPlaced');
    expect(subject).toBe(`events.order.${orderId}.OrderPlaced`);
    expect(parseEventSubject(subject)).toEqual({ aggregateType: 'order', aggregateId: orderId, eventType: 'OrderPlaced' });
    expect(eventTypeFilter('OrderPlaced')).toBe('events.*.*.OrderPlaced');
    expect(aggregateFilter('order', orderId)).toBe(`events.order.${orderId}.*`);
  });

  it('refuses tokens that would change the subject grammar', () => {
    expect(() => eventSubject('order', 'a.b', 'OrderPlaced')).toThrow();
    expect(() => eventSubject('order', '*', 'OrderPlaced')).toThrow();
  });

  it('makes time-ordered UUIDv7 ids', () => {
    const early = uuidv7(1_700_000_000_000);
    const late = uuidv7(1_800_000_000_000);
    expect(early < late).toBe(true);
    expect(late).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('schema evolution', () => {
  it('reads a v1 OrderPlaced (no deadline) as v2, with the deadline v1 implied', () => {
    const orderId = uuidv7();
    const v1 = {
      ...meta(),
      type: 'OrderPlaced',
      schemaVersion: 1,
      aggregateType: 'order',
      aggregateId: orderId,
      occurredAt: '2026-01-01T12:00:00.000Z',
      data: {
        orderId,
        cartId: uuidv7(),
        customerId: uuidv7(),
        lines: [{ productId: uuidv7(), quantity: 1, priceCents: 100 }],
        totalCents: 100,
      },
    };
    const read = parseEvent(v1);
    expect(read.schemaVersion).toBe(2);
    expect(read.type === 'OrderPlaced' && read.data.deadlineAt).toBe('2026-01-01T12:00:30.000Z');
  });
});

describe('aggregate owners', () => {
  it('names the owning service of every aggregate type in the catalogue (NATS publish permissions come from it)', async () => {
    const { AGGREGATE_OWNERS } = await import('./owners.js');
    const types = new Set(catalog.map((definition) => definition.aggregateType));
    expect([...types].filter((type) => !AGGREGATE_OWNERS[type])).toEqual([]);
  });
});

describe('personal data in the catalogue', () => {
  it('marks the customer name, email and address lines personal, and every such event names its customer', async () => {
    const { personalFieldsOf } = await import('./catalog.js');
    const marked = catalog.filter((definition) => personalFieldsOf(definition.type).length > 0).map((definition) => definition.type);
    expect(marked).toEqual(['CustomerRegistered', 'OrderPlaced', 'ShipmentCreated']);
    // The customer's data key seals the fields: an event with personal data that named no customer could not be sealed.
    for (const type of marked) {
      const definition = catalog.find((candidate) => candidate.type === type);
      expect(Object.keys((definition?.data as unknown as { shape: object }).shape)).toContain('customerId');
    }
    expect(personalFieldsOf('OrderPlaced')).toContainEqual(['shippingAddress', 'city']);
  });

  it('accepts a sealed value and [erased] where personal data was, and still checks plaintext', () => {
    const customerId = uuidv7();
    const sealed = `enc:v1:${crypto.randomUUID()}:AAAAAAAAAAAAAAAA:${'B'.repeat(30)}`;
    const data = {
      customerId,
      name: sealed,
      email: '[erased]',
      balanceCents: 0,
      address: { line1: sealed, city: '[erased]', postalCode: sealed, country: 'FR' },
    };
    expect(parseEvent(createEvent('CustomerRegistered', customerId, data, meta())).data).toEqual(data);
    const long = { ...data, address: { ...data.address, city: 'x'.repeat(101) } };
    expect(() => createEvent('CustomerRegistered', customerId, long, meta())).toThrow(InvalidEventError);
  });
});
