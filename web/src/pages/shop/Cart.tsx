import { useMutation, useQuery } from '@tanstack/react-query';
import { ErrorNote, Section } from '../../components/ui.js';
import { api } from '../../lib/api.js';
import { money, shortId } from '../../lib/format.js';
import { Link, navigate } from '../../lib/router.js';
import { type Cart as CartView, forgetCart } from './cart-state.js';

export function Cart({ cartId }: { cartId: string }) {
  const cart = useQuery({ queryKey: ['cart', cartId], queryFn: () => api<CartView>(`/api/carts/${cartId}`) });
  const checkout = useMutation({
    mutationFn: () => api<{ orderId: string }>(`/api/carts/${cartId}/checkout`, { method: 'POST' }),
    onSuccess: ({ orderId }) => {
      forgetCart();
      navigate(`/orders/${orderId}`);
    },
  });
  return (
    <>
      <h1>Cart</h1>
      <ErrorNote error={cart.error} />
      {cart.data ? (
        <Section title={`Cart ${shortId(cart.data.id)}`}>
          <table>
            <thead>
              <tr>
                <th scope="col">Product</th>
                <th scope="col">Quantity</th>
                <th scope="col">Unit price</th>
              </tr>
            </thead>
            <tbody>
              {cart.data.items.map((item) => (
                <tr key={item.productId}>
                  <td>
                    <Link href={`/?product=${item.productId}`}>
                      <code>{shortId(item.productId)}</code>
                    </Link>
                  </td>
                  <td>{item.quantity}</td>
                  <td>{money(item.priceCents)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="total">Total {money(cart.data.totalCents)}</p>
          {cart.data.status === 'OPEN' ? (
            <button
              type="button"
              className="primary"
              disabled={checkout.isPending || cart.data.items.length === 0}
              onClick={() => checkout.mutate()}
            >
              Check out
            </button>
          ) : cart.data.orderId ? (
            <Link href={`/orders/${cart.data.orderId}`}>Its order</Link>
          ) : null}
          <ErrorNote error={checkout.error} />
        </Section>
      ) : null}
    </>
  );
}
