import { NotFoundError, type ServiceDeps, uuidParam } from '@jetsaga/platform';
import { Hono } from 'hono';
import { loadOrder, orderView } from './store.js';

export function orderRoutes({ db }: Pick<ServiceDeps, 'db'>): Hono {
  const app = new Hono();
  app.get('/api/orders/:id', async (c) => {
    const id = uuidParam(c, 'id', 'order');
    const order = await loadOrder(db, id);
    if (!order) throw new NotFoundError(`order ${id} does not exist`);
    return c.json(orderView(order));
  });
  return app;
}
