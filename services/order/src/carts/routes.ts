import {
  handleCommand,
  type Metadata,
  NotFoundError,
  readJson,
  requestMetadata,
  runCommand,
  type ServiceDeps,
  UnprocessableError,
  uuidParam,
  withTransaction,
} from '@jetsaga/platform';
import { addressSchema } from '@jetsaga/events';
import { Hono } from 'hono';
import { z } from 'zod';
import type { Lookups } from '../lookups.js';
import { deadlineInstant } from '../orders/deadlines.js';
import { orders } from '../orders/reactions.js';
import { carts, cartView, loadCart } from './store.js';

export { deadlineInstant, deadlineMessage } from '../orders/deadlines.js';

const createCartBody = z.strictObject({ customerId: z.uuid() });
const addItemBody = z.strictObject({
  productId: z.uuid(),
  quantity: z.number().int().min(1).max(10_000),
});
/** Optional: a checkout without a body ships to the customer's own address. */
const checkoutBody = z.strictObject({ shippingAddress: z.strictObject(addressSchema.shape).optional() });

export type CartRoutesOptions = ServiceDeps & { lookups: Lookups; deadlineMs: number };

export function cartRoutes(options: CartRoutesOptions): Hono {
  const { db, lookups } = options;
  const app = new Hono();

  app.post('/api/carts', async (c) => {
    const body = await readJson(c, createCartBody);
    if (!(await lookups.customerExists(body.customerId))) {
      throw new UnprocessableError(`customer ${body.customerId} does not exist`, [{ field: 'customerId', reason: 'unknown customer' }]);
    }
    const cartId = options.newId();
    const command = { type: 'CreateCart', cartId, customerId: body.customerId } as const;
    const { state } = await handleCommand(db, carts, { id: cartId, command, meta: requestMetadata(options, c.get('requestId')) }, options);
    if (state.status === 'NONE') throw new Error('unreachable: a created cart is open');
    return c.json(cartView(state), 201);
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
    const command = { type: 'AddItem', productId: product.id, quantity: body.quantity, priceCents: product.priceCents } as const;
    const { state } = await handleCommand(db, carts, { id, command, meta: requestMetadata(options, c.get('requestId')) }, options);
    if (state.status === 'NONE') throw new NotFoundError(`cart ${id} does not exist`);
    return c.json(cartView(state));
  });

  app.post('/api/carts/:id/checkout', async (c) => {
    const id = uuidParam(c, 'id', 'cart');
    const { shippingAddress } = (await c.req.text()).length === 0 ? {} : await readJson(c, checkoutBody);
    const orderId = options.newId();
    await withTransaction(db, async (tx) => {
      // One correlation for the saga, started by the customer whose cart it is: the cart's and the order's events share it.
      let meta: Metadata | undefined;
      const checkedOut = await runCommand(
        tx,
        carts,
        {
          id,
          command: { type: 'CheckOut', orderId },
          meta: (cart) =>
            (meta = requestMetadata(options, c.get('requestId'), cart.status === 'NONE' ? 'api' : `customer:${cart.customerId}`)),
        },
        options,
      );
      const cart = checkedOut.state;
      if (cart.status === 'NONE' || !meta) throw new NotFoundError(`cart ${id} does not exist`);
      const deadlineAt = deadlineInstant(new Date(meta.occurredAt), options.deadlineMs);
      const command = {
        type: 'PlaceOrder',
        orderId,
        cartId: id,
        customerId: cart.customerId,
        lines: cart.items,
        deadlineAt,
        ...(shippingAddress ? { shippingAddress } : {}),
      } as const;
      await runCommand(tx, orders, { id: orderId, command, meta }, options);
    });
    c.header('Location', `/api/orders/${orderId}`);
    return c.json({ orderId }, 202);
  });

  return app;
}
