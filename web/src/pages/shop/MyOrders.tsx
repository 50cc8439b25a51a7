import { useQuery } from '@tanstack/react-query';
import { Badge, ErrorNote, Section, useCursor } from '../../components/ui.js';
import { api, query } from '../../lib/api.js';
import { money, shortId, time } from '../../lib/format.js';
import { Link } from '../../lib/router.js';

export type OrderSummary = {
  id: string;
  customerId: string;
  status: string;
  reason?: string;
  totalCents: number;
  lineCount: number;
  correlationId: string;
  placedAt: string | null;
  endedAt: string | null;
};

export function OrdersTable({ orders, operator }: { orders: OrderSummary[]; operator: boolean }) {
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Order</th>
          {operator ? <th scope="col">Customer</th> : null}
          <th scope="col">Status</th>
          <th scope="col">Total</th>
          <th scope="col">Placed</th>
          {operator ? <th scope="col">Saga</th> : null}
        </tr>
      </thead>
      <tbody>
        {orders.map((order) => (
          <tr key={order.id}>
            <td>
              <Link href={`/orders/${order.id}`}>
                <code>{shortId(order.id)}</code>
              </Link>
            </td>
            {operator ? (
              <td>
                <code>{shortId(order.customerId)}</code>
              </td>
            ) : null}
            <td>
              <Badge value={order.status} /> {order.reason ?? ''}
            </td>
            <td>{money(order.totalCents)}</td>
            <td>{time(order.placedAt)}</td>
            {operator ? (
              <td>
                <Link href={`/ops/sagas/${order.correlationId}`}>timeline</Link>
              </td>
            ) : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function MyOrders() {
  const cursor = useCursor();
  const orders = useQuery({
    queryKey: ['my-orders', cursor.after],
    queryFn: () => api<{ orders: OrderSummary[]; next: string | null }>(`/api/orders${query({ after: cursor.after, limit: 25 })}`),
  });
  return (
    <>
      <h1>My orders</h1>
      <Section title="Orders">
        <ErrorNote error={orders.error} />
        {orders.data ? <OrdersTable orders={orders.data.orders} operator={false} /> : null}
        {cursor.pager(orders.data?.next)}
      </Section>
    </>
  );
}
