import { useQuery } from '@tanstack/react-query';
import { ErrorNote, SearchInput, SearchSelect, Section, useCursor } from '../../components/ui.js';
import { api, query } from '../../lib/api.js';
import { useLocation } from '../../lib/router.js';
import { ORDER_STATUSES } from '../../lib/saga.js';
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
          <SearchSelect label="Status" name="status" value={status} options={ORDER_STATUSES} cursor={cursor} />
          <SearchInput label="Customer id" name="customerId" value={customerId} cursor={cursor} />
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
