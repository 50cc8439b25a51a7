import { type DomainEvent, deadlineFiredSubject, deadlineScheduleSubject, materialize } from '@jetsaga/events';
import {
  currentTraceId,
  enqueue,
  enqueueEvents,
  NotFoundError,
  type OutboxMessage,
  readJson,
  type ServiceDeps,
  UnprocessableError,
  uuidParam,
  withTransaction,
} from '@jetsaga/platform';
import { Hono } from 'hono';
import { z } from 'zod';
import type { Lookups } from '../lookups.js';
import { decideOrder, evolveOrder, initialOrder } from '../orders/order.js';
import { insertOrder } from '../orders/store.js';
import { decideCart, evolveCart, initialCart } from './cart.js';
import { cartView, loadCart, saveCart } from './store.js';

const createCartBody = z.strictObject({ customerId: z.uuid() });
const addItemBody = z.strictObject({
  productId: z.uuid(),
  quantity: z.number().int().min(1).max(10_000),
});

export type CartRoutesOptions = ServiceDeps & { lookups: Lookups; deadlineMs: number };

/** `@at` takes an RFC 3339 instant; whole seconds, rounded up so a deadline never fires early. */
export function deadlineInstant(now: Date, deadlineMs: number): string {
  const at = new Date(Math.ceil((now.getTime() + deadlineMs) / 1000) * 1000);
  return at.toISOString().replace('.000Z', 'Z');
}

/** The timer JetStream fires for an order: a schedule message whose target the order service consumes. */
export function deadlineMessage(placed: DomainEvent & { type: 'OrderPlaced' }, id: string): OutboxMessage {
  const { orderId, deadlineAt } = placed.data;
  return {
    id,
    subject: deadlineScheduleSubject('order', orderId),
    payload: { deadlineId: id, orderId, correlationId: placed.correlationId, causationId: placed.id, deadlineAt },
    headers: {
      'Nats-Schedule': `@at ${deadlineAt}`,
      'Nats-Schedule-Target': deadlineFiredSubject('order', orderId),
    },
  };
}

export function cartRoutes(options: CartRoutesOptions): Hono {
  const { db, lookups, now, newId } = options;
  const app = new Hono();

  app.post('/api/carts', async (c) => {
    const body = await readJson(c, createCartBody);
    if (!(await lookups.customerExists(body.customerId))) {
      throw new UnprocessableError(`customer ${body.customerId} does not exist`, [{ field: 'customerId', reason: 'unknown customer' }]);
    }
    const cartId = newId();
    const events = decideCart(initialCart, { type: 'CreateCart', cartId, customerId: body.customerId });
    const cart = events.reduce(evolveCart, initialCart);
    await withTransaction(db, async (tx) => {
      await saveCart(tx, cart);
      await enqueueEvents(tx, materialize(events, cartId, requestMeta(c.get('requestId'), newId, now())));
    });
    if (cart.status === 'NONE') throw new Error('unreachable: a created cart is open');
    return c.json(cartView(cart), 201);
  });

  app.get('/api/carts/:id', async (c) => {
    const id = uuidParam(c, 'id', 'cart');
    const cart = await loadCart(db, id);
    if (cart.status === 'NONE') throw new NotFoundError(`cart ${id} does not exist`);
    return c.json(cartView(cart));
  });

  app.post('/api/carts/:id/items', async (c) => {
    const id = uuidParam(c, 'id', 'cart');
    const body = await readJson(c, addItemBody);
    if ((await loadCart(db, id)).status === 'NONE') throw new NotFoundError(`cart ${id} does not exist`);
    const product = await lookups.product(body.productId);
    if (!product) {
      throw new UnprocessableError(`product ${body.productId} does not exist`, [{ field: 'productId', reason: 'unknown product' }]);
    }
    const cart = await withTransaction(db, async (tx) => {
      const state = await loadCart(tx, id, true);
      const events = decideCart(state, { type: 'AddItem', productId: product.id, quantity: body.quantity, priceCents: product.priceCents });
      const next = events.reduce(evolveCart, state);
      await saveCart(tx, next);
      await enqueueEvents(tx, materialize(events, id, requestMeta(c.get('requestId'), newId, now())));
      return next;
    });
    if (cart.status === 'NONE') throw new NotFoundError(`cart ${id} does not exist`);
    return c.json(cartView(cart));
  });

  app.post('/api/carts/:id/checkout', async (c) => {
    const id = uuidParam(c, 'id', 'cart');
    const orderId = await withTransaction(db, async (tx) => {
      // The row lock serializes concurrent checkouts of one cart: the first wins, the others see CHECKED_OUT (409).
      const cart = await loadCart(tx, id, true);
      if (cart.status === 'NONE') throw new NotFoundError(`cart ${id} does not exist`);
      const orderId = newId();
      const correlationId = newId();
      const at = now();
      const cartEvents = decideCart(cart, { type: 'CheckOut', orderId });
      const orderEvents = decideOrder(initialOrder, {
        type: 'PlaceOrder',
        orderId,
        cartId: id,
        customerId: cart.customerId,
        lines: cart.items,
        deadlineAt: deadlineInstant(at, options.deadlineMs),
      });
      const base = {
        correlationId,
        causationId: c.get('requestId'),
        actor: `customer:${cart.customerId}`,
        occurredAt: at.toISOString(),
        newId,
      };
      const events = [...materialize(cartEvents, id, base), ...materialize(orderEvents, orderId, base)];
      await saveCart(tx, cartEvents.reduce(evolveCart, cart));
      await insertOrder(tx, orderEvents.reduce(evolveOrder, initialOrder), correlationId, currentTraceId());
      const placed = events.find((event) => event.type === 'OrderPlaced');
      if (placed?.type !== 'OrderPlaced') throw new Error('unreachable: checkout places an order');
      await enqueueEvents(tx, events);
      await enqueue(tx, [deadlineMessage(placed, newId())]);
      return orderId;
    });
    c.header('Location', `/api/orders/${orderId}`);
    return c.json({ orderId }, 202);
  });

  return app;
}

/** Events caused directly by a request: each request is its own correlation, caused by the request id. */
function requestMeta(requestId: string, newId: () => string, at: Date) {
  return { correlationId: newId(), causationId: requestId, actor: 'api', occurredAt: at.toISOString(), newId };
}
