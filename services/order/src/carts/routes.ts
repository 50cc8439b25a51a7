import { addressSchema, orderLineSchema } from '@jetsaga/events';
import {
  actorOf,
  assertOwner,
  handleCommand,
  NotFoundError,
  pathId,
  type Principal,
  requestMetadata,
  type Routes,
  routes,
  runCommand,
  type ServiceDeps,
  UnprocessableError,
  withTransaction,
} from '@jetsaga/platform';
import { z } from 'zod';
import type { Lookups } from '../lookups.js';
import { deadlineInstant } from '../orders/deadlines.js';
import { orders } from '../orders/reactions.js';
import type { Cart } from './cart.js';
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

const cartSchema = z.object({
  id: z.uuid(),
  customerId: z.uuid(),
  status: z.enum(['OPEN', 'CHECKED_OUT']),
  items: z.array(orderLineSchema),
  totalCents: z.number().int(),
  orderId: z.uuid().optional().meta({ description: 'the order a checkout placed' }),
});
const cartId = z.object({ id: pathId() });
const CART_ROLES = ['customer', 'admin'] as const;
const OWN_CART = 'A customer reaches only their own carts.';

export function cartRoutes(options: CartRoutesOptions): Routes {
  const { db, lookups } = options;

  /** The cart, if the principal may act on it: another customer's cart is a 403, a cart that does not exist a 404. */
  async function ownCart(id: string, principal: Principal): Promise<Exclude<Cart, { status: 'NONE' }>> {
    const cart = await loadCart(db, id);
    if (cart.status === 'NONE') throw new NotFoundError(`cart ${id} does not exist`);
    assertOwner(principal, cart.customerId, `cart ${id}`);
    return cart;
  }

  return routes()
    .add({
      method: 'post',
      path: '/api/carts',
      summary: 'Open a cart for a customer',
      tags: ['carts'],
      roles: CART_ROLES,
      ownership: 'A customer opens carts for themselves only.',
      body: createCartBody,
      responses: { 201: { description: 'The new, empty cart', schema: cartSchema } },
      problems: { 422: 'the customer does not exist' },
      handler: async (c, { body, principal }) => {
        assertOwner(principal, body.customerId, 'a cart for this customer');
        if (!(await lookups.customerExists(body.customerId, principal.token))) {
          throw new UnprocessableError(`customer ${body.customerId} does not exist`, [{ field: 'customerId', reason: 'unknown customer' }]);
        }
        const id = options.newId();
        const command = { type: 'CreateCart', cartId: id, customerId: body.customerId } as const;
        const meta = requestMetadata(options, c.get('requestId'), actorOf(principal));
        const { state } = await handleCommand(db, carts, { id, command, meta }, options);
        if (state.status === 'NONE') throw new Error('unreachable: a created cart is open');
        return c.json(cartView(state), 201);
      },
    })
    .add({
      method: 'get',
      path: '/api/carts/:id',
      summary: 'A cart, its items and total',
      tags: ['carts'],
      roles: ['customer', 'agent', 'admin'],
      ownership: OWN_CART,
      params: cartId,
      responses: { 200: { description: 'The cart', schema: cartSchema } },
      problems: { 404: 'no such cart' },
      handler: async (c, { params, principal }) => {
        return c.json(cartView(await ownCart(params.id, principal)));
      },
    })
    .add({
      method: 'post',
      path: '/api/carts/:id/items',
      summary: 'Add a product to an open cart, at its current price',
      tags: ['carts'],
      roles: CART_ROLES,
      ownership: OWN_CART,
      params: cartId,
      body: addItemBody,
      responses: { 200: { description: 'The cart with the item', schema: cartSchema } },
      problems: { 404: 'no such cart', 409: 'the cart is checked out', 422: 'the product does not exist' },
      handler: async (c, { params, body, principal }) => {
        const { id } = params;
        await ownCart(id, principal);
        const product = await lookups.product(body.productId, principal.token);
        if (!product) {
          throw new UnprocessableError(`product ${body.productId} does not exist`, [{ field: 'productId', reason: 'unknown product' }]);
        }
        const command = { type: 'AddItem', productId: product.id, quantity: body.quantity, priceCents: product.priceCents } as const;
        const meta = requestMetadata(options, c.get('requestId'), actorOf(principal));
        const { state } = await handleCommand(db, carts, { id, command, meta }, options);
        if (state.status === 'NONE') throw new NotFoundError(`cart ${id} does not exist`);
        return c.json(cartView(state));
      },
    })
    .add({
      method: 'post',
      path: '/api/carts/:id/checkout',
      summary: 'Check a cart out: places its order and starts the saga',
      description:
        "Without a `shippingAddress` the parcel goes to the customer's own address. Answers at once; follow the order at its Location (it ends COMPLETED or CANCELLED).",
      tags: ['carts'],
      roles: CART_ROLES,
      ownership: OWN_CART,
      params: cartId,
      body: checkoutBody,
      bodyOptional: true,
      responses: { 202: { description: 'The order placed; its saga runs', schema: z.object({ orderId: z.uuid() }) } },
      problems: { 404: 'no such cart', 409: 'the cart is already checked out' },
      handler: async (c, { params, body, principal }) => {
        const { id } = params;
        const { shippingAddress } = body;
        await ownCart(id, principal);
        const orderId = options.newId();
        // One correlation for the saga, started by whoever checked out: the cart's and the order's events share it.
        const meta = requestMetadata(options, c.get('requestId'), actorOf(principal));
        await withTransaction(db, async (tx) => {
          const checkedOut = await runCommand(tx, carts, { id, command: { type: 'CheckOut', orderId }, meta }, options);
          const cart = checkedOut.state;
          if (cart.status === 'NONE') throw new NotFoundError(`cart ${id} does not exist`);
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
      },
    });
}
