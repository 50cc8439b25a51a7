import { orderLineSchema } from '@jetsaga/events';
import { assertOwner, NotFoundError, pathId, type Routes, routes, type ServiceDeps } from '@jetsaga/platform';
import { z } from 'zod';
import { loadFulfilment } from '../fulfilment/consumer.js';
import { loadOrder, orderView } from './store.js';

const orderSchema = z.object({
  id: z.uuid(),
  customerId: z.uuid(),
  status: z.enum(['PENDING', 'COMPLETED', 'CANCELLED']),
  reason: z.string().optional().meta({ description: 'why a cancelled order was cancelled' }),
  lines: z.array(orderLineSchema),
  totalCents: z.number().int(),
  correlationId: z.uuid().meta({ description: 'the saga: every event it caused carries it' }),
  traceId: z.string().optional(),
  fulfilment: z
    .enum(['NONE', 'PENDING', 'DISPATCHED', 'DELIVERED', 'INCIDENT', 'REFUNDED'])
    .meta({ description: "where the order's parcel is (shipping's events); NONE until one was opened" }),
});

export function orderRoutes({ db }: Pick<ServiceDeps, 'db'>): Routes {
  return routes().add({
    method: 'get',
    path: '/api/orders/:id',
    summary: "An order and where its saga stands (order's own record)",
    tags: ['orders'],
    roles: ['customer', 'agent', 'admin'],
    ownership: 'A customer reads only their own orders.',
    params: z.object({ id: pathId() }),
    responses: { 200: { description: 'The order', schema: orderSchema } },
    problems: { 404: 'no such order' },
    handler: async (c, { params, principal }) => {
      const order = await loadOrder(db, params.id);
      if (!order) throw new NotFoundError(`order ${params.id} does not exist`);
      assertOwner(principal, order.customerId, `order ${params.id}`);
      return c.json({ ...orderView(order), fulfilment: await loadFulfilment(db, params.id) });
    },
  });
}
