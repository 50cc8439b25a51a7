import { useQuery } from '@tanstack/react-query';
import { ErrorNote, Field, Section, useCursor } from '../../components/ui.js';
import { api, query } from '../../lib/api.js';
import { setSearch, useLocation } from '../../lib/router.js';
import { type OrderSummary, OrdersTable } from '../shop/MyOrders.js';

export default function Orders() {
  const { search } = useLocation();
  const status = search.get('status') ?? '';
  const customerId = search.get('customerId') ?? '';
  const cursor = useCursor();
  const orders = useQuery({
    queryKey: ['orders', status, customerId, cursor.after],
    queryFn: () =>
      api<{ orders: OrderSummary[]; next: string | null }>(`/api/orders${query({ status, customerId, after: cursor.after, limit: 50 })}`),
    placeholderData: (previous) => previous,
  });
  return (
    <>
      <h1>Orders</h1>
      <Section title="Filters">
        <form className="row" onSubmit={(event) => event.preventDefault()}>
          <Field label="Status">
            <select
              value={status}
              onChange={(event) => {
                cursor.reset();
                setSearch({ status: event.target.value });
              }}
            >
              <option value="">any</option>
              <option>PENDING</option>
              <option>COMPLETED</option>
              <option>CANCELLED</option>
            </select>
          </Field>
          <Field label="Customer id">
            <input
              defaultValue={customerId}
              onBlur={(event) => {
                cursor.reset();
                setSearch({ customerId: event.target.value.trim() });
              }}
            />
          </Field>
        </form>
      </Section>
      <Section title="Orders (order-summaries read model)">
        <ErrorNote error={orders.error} />
        {orders.data ? <OrdersTable orders={orders.data.orders} operator /> : <p aria-busy="true">Loading…</p>}
        {cursor.pager(orders.data?.next)}
      </Section>
    </>
  );
}
