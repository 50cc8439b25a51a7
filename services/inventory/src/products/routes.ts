import {
  type CommandHandler,
  ConflictError,
  handleCommand,
  NotFoundError,
  readJson,
  requestMetadata,
  type ServiceDeps,
  uuidParam,
} from '@jetsaga/platform';
import { Hono } from 'hono';
import { z } from 'zod';
import { type CreateProduct, decideProduct, evolveProduct, type Product } from './product.js';
import { loadProduct, loadProducts, productView } from './store.js';

const createProductBody = z.strictObject({
  sku: z.string().trim().min(1).max(64),
  name: z.string().trim().min(1).max(200),
  priceCents: z.number().int().min(0).max(100_000_000),
  stock: z.number().int().min(0).max(1_000_000_000),
});

export const products: CommandHandler<Product, CreateProduct, ReturnType<typeof decideProduct>[number]> = {
  initialState: { status: 'NONE' },
  load: loadProducts,
  decide: decideProduct,
  evolve: evolveProduct,
  async save(tx, changes) {
    for (const { state } of changes) {
      if (state.status === 'NONE') continue;
      const inserted = await tx.query(
        `INSERT INTO products (id, sku, name, price_cents, available, reserved) VALUES ($1, $2, $3, $4, $5, 0)
         ON CONFLICT (sku) DO NOTHING`,
        [state.id, state.sku, state.name, state.priceCents, state.available],
      );
      if (inserted.rowCount !== 1) throw new ConflictError(`a product with sku ${state.sku} already exists`);
    }
  },
};

export function productRoutes(deps: ServiceDeps): Hono {
  const { db } = deps;
  const app = new Hono();

  app.post('/api/products', async (c) => {
    const body = await readJson(c, createProductBody);
    const productId = deps.newId();
    const command: CreateProduct = { type: 'CreateProduct', productId, ...body };
    const { state } = await handleCommand(db, products, { id: productId, command, meta: requestMetadata(deps, c.get('requestId')) }, deps);
    if (state.status === 'NONE') throw new Error('unreachable: a created product is active');
    return c.json(productView(state), 201);
  });

  app.get('/api/products/:id', async (c) => {
    const id = uuidParam(c, 'id', 'product');
    const product = await loadProduct(db, id);
    if (product.status === 'NONE') throw new NotFoundError(`product ${id} does not exist`);
    return c.json(productView(product));
  });

  return app;
}
