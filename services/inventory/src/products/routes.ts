import { materialize } from '@jetsaga/events';
import { ConflictError, enqueueEvents, NotFoundError, readJson, type ServiceDeps, uuidParam, withTransaction } from '@jetsaga/platform';
import { Hono } from 'hono';
import { z } from 'zod';
import { decideProduct, evolveProduct, type Product } from './product.js';
import { loadProduct, productView } from './store.js';

const createProductBody = z.strictObject({
  sku: z.string().trim().min(1).max(64),
  name: z.string().trim().min(1).max(200),
  priceCents: z.number().int().min(0).max(100_000_000),
  stock: z.number().int().min(0).max(1_000_000_000),
});

export function productRoutes({ db, now, newId }: ServiceDeps): Hono {
  const app = new Hono();

  app.post('/api/products', async (c) => {
    const body = await readJson(c, createProductBody);
    const productId = newId();
    const initial: Product = { status: 'NONE' };
    const events = decideProduct(initial, { type: 'CreateProduct', productId, ...body });
    const product = events.reduce(evolveProduct, initial);
    if (product.status === 'NONE') throw new Error('unreachable: a created product is active');
    await withTransaction(db, async (tx) => {
      const inserted = await tx.query(
        `INSERT INTO products (id, sku, name, price_cents, available, reserved) VALUES ($1, $2, $3, $4, $5, 0)
         ON CONFLICT (sku) DO NOTHING`,
        [product.id, product.sku, product.name, product.priceCents, product.available],
      );
      if (inserted.rowCount !== 1) throw new ConflictError(`a product with sku ${body.sku} already exists`);
      await enqueueEvents(
        tx,
        materialize(events, productId, {
          correlationId: newId(),
          causationId: c.get('requestId'),
          actor: 'api',
          occurredAt: now().toISOString(),
          newId,
        }),
      );
    });
    return c.json(productView(product), 201);
  });

  app.get('/api/products/:id', async (c) => {
    const id = uuidParam(c, 'id', 'product');
    const product = await loadProduct(db, id);
    if (product.status === 'NONE') throw new NotFoundError(`product ${id} does not exist`);
    return c.json(productView(product));
  });

  return app;
}
