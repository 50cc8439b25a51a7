import type { EventDraft } from '@jetsaga/events';
import { ConflictError } from '@jetsaga/platform';

export type Product =
  { status: 'NONE' } | { status: 'ACTIVE'; id: string; sku: string; name: string; priceCents: number; available: number; reserved: number };

export type CreateProduct = { type: 'CreateProduct'; productId: string; sku: string; name: string; priceCents: number; stock: number };

export function decideProduct(state: Product, command: CreateProduct): EventDraft<'ProductCreated'>[] {
  if (state.status !== 'NONE') throw new ConflictError(`product ${command.productId} already exists`);
  const { productId, sku, name, priceCents, stock } = command;
  return [{ type: 'ProductCreated', data: { productId, sku, name, priceCents, stock } }];
}

export function evolveProduct(_state: Product, event: EventDraft<'ProductCreated'>): Product {
  const { productId, sku, name, priceCents, stock } = event.data;
  return { status: 'ACTIVE', id: productId, sku, name, priceCents, available: stock, reserved: 0 };
}
