import {
  ANY_ROLE,
  actorOf,
  type CommandHandler,
  ConflictError,
  handleCommand,
  NotFoundError,
  pathId,
  requestMetadata,
  type Routes,
  routes,
  type ServiceDeps,
  ValidationError,
} from '@jetsaga/platform';
import { z } from 'zod';
import { type CreateProduct, decideProduct, evolveProduct, type Product } from './product.js';
import { listProducts, loadProduct, loadProducts, productView } from './store.js';

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

const productSchema = z.object({
  id: z.uuid(),
  sku: z.string(),
  name: z.string(),
  priceCents: z.number().int(),
  available: z.number().int().meta({ description: 'units that can still be reserved' }),
  reserved: z.number().int().meta({ description: 'units held by orders whose saga has not ended' }),
});

const listQuery = z.strictObject({
  after: z.string().min(1).max(200).optional().meta({ description: 'the `next` cursor of the previous page' }),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const encodeCursor = (id: string) => Buffer.from(JSON.stringify({ p: id })).toString('base64url');

function decodeCursor(cursor: string): string {
  try {
    const { p } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { p: unknown };
    if (typeof p === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(p)) return p;
  } catch {
    // reported below
  }
  throw new ValidationError('the cursor is not one this API returned', [{ field: 'after', reason: 'invalid cursor' }]);
}

export function productRoutes(deps: ServiceDeps): Routes {
  const { db } = deps;
  return routes()
    .add({
      method: 'post',
      path: '/api/products',
      summary: 'Add a product to the catalogue with its initial stock',
      tags: ['products'],
      roles: ['admin'],
      body: createProductBody,
      responses: { 201: { description: 'The product, as created', schema: productSchema } },
      problems: { 409: 'a product with this sku already exists' },
      handler: async (c, { body, principal }) => {
        const productId = deps.newId();
        const command: CreateProduct = { type: 'CreateProduct', productId, ...body };
        const meta = requestMetadata(deps, c.get('requestId'), actorOf(principal));
        const { state } = await handleCommand(db, products, { id: productId, command, meta }, deps);
        if (state.status === 'NONE') throw new Error('unreachable: a created product is active');
        return c.json(productView(state), 201);
      },
    })
    .add({
      method: 'get',
      path: '/api/products',
      summary: 'The catalogue, oldest product first, in pages (what the shop lists)',
      tags: ['products'],
      roles: ANY_ROLE,
      query: listQuery,
      responses: {
        200: {
          description: 'A page of products; `next` is the cursor of the following page (null on the last)',
          schema: z.object({ products: z.array(productSchema), next: z.string().nullable() }),
        },
      },
      handler: async (c, { query }) => {
        const after = query.after === undefined ? undefined : decodeCursor(query.after);
        const page = await listProducts(db, { ...(after ? { after } : {}), limit: query.limit + 1 });
        const shown = page.slice(0, query.limit).flatMap((product) => (product.status === 'ACTIVE' ? [productView(product)] : []));
        const last = shown[shown.length - 1];
        return c.json({ products: shown, next: page.length > query.limit && last ? encodeCursor(last.id) : null });
      },
    })
    .add({
      method: 'get',
      path: '/api/products/:id',
      summary: 'A product of the catalogue, with its stock',
      tags: ['products'],
      roles: ANY_ROLE,
      params: z.object({ id: pathId() }),
      responses: { 200: { description: 'The product', schema: productSchema } },
      problems: { 404: 'no such product' },
      handler: async (c, { params }) => {
        const product = await loadProduct(db, params.id);
        if (product.status === 'NONE') throw new NotFoundError(`product ${params.id} does not exist`);
        return c.json(productView(product));
      },
    });
}
