import { api } from '../../lib/api.js';
import type { Session } from '../../lib/session.js';

export type Cart = {
  id: string;
  customerId: string;
  status: 'OPEN' | 'CHECKED_OUT';
  items: { productId: string; quantity: number; priceCents: number }[];
  totalCents: number;
  orderId?: string;
};

const KEY = 'jetsaga.cart';

/** The open cart of this tab's shopper: [customer it belongs to, its id]. */
export function useCartId(): [string | undefined, string | undefined] {
  const saved = JSON.parse(sessionStorage.getItem(KEY) ?? '{}') as { customerId?: string; cartId?: string };
  return [saved.customerId, saved.cartId];
}

export const forgetCart = () => sessionStorage.removeItem(KEY);

/**
 * Adds to the shopper's open cart, opening one first when there is none (a customer buys for themselves; an operator
 * for the customer they name in the cart, asked once).
 */
export async function addToCart(
  session: Session,
  customerId: string | undefined,
  cartId: string | undefined,
  productId: string,
  quantity: number,
): Promise<Cart> {
  const owner = session.role === 'customer' ? session.subject : customerId;
  let id = owner === customerId ? cartId : undefined;
  if (!id) {
    const buyer = owner ?? window.prompt('Buy for which customer id?')?.trim();
    if (!buyer) throw new Error('a cart belongs to a customer: name one');
    const cart = await api<Cart>('/api/carts', { method: 'POST', body: { customerId: buyer } });
    sessionStorage.setItem(KEY, JSON.stringify({ customerId: buyer, cartId: cart.id }));
    id = cart.id;
  }
  return api<Cart>(`/api/carts/${id}/items`, { method: 'POST', body: { productId, quantity } });
}
