import { useQuery } from '@tanstack/react-query';
import { ErrorNote, Field, Section, useCursor } from '../../components/ui.js';
import { api, query } from '../../lib/api.js';
import { setSearch, useLocation } from '../../lib/router.js';
import { nextOf, Records } from './Records.js';

/** What the notification service sent or failed to send (services/notification, issue 15). */
export default function Notifications() {
  const { search } = useLocation();
  const customerId = search.get('customerId') ?? '';
  const orderId = search.get('orderId') ?? '';
  const cursor = useCursor();
  const list = useQuery({
    queryKey: ['notifications', customerId, orderId, cursor.after],
    queryFn: () => api<unknown>(`/api/notifications${query({ customerId, orderId, after: cursor.after, limit: 50 })}`),
  });
  return (
    <>
      <h1>Notifications</h1>
      <Section title="Filters">
        <form
          className="row"
          onSubmit={(event) => {
            event.preventDefault();
            const form = new FormData(event.currentTarget);
            cursor.reset();
            setSearch({ customerId: String(form.get('customerId') ?? '').trim(), orderId: String(form.get('orderId') ?? '').trim() });
          }}
        >
          <Field label="Customer id">
            <input name="customerId" defaultValue={customerId} />
          </Field>
          <Field label="Order id">
            <input name="orderId" defaultValue={orderId} />
          </Field>
          <button type="submit">Apply</button>
        </form>
      </Section>
      <Section title="Sent and failed">
        <ErrorNote error={list.error} />
        {list.data ? (
          <Records answer={list.data} columns={['notificationId', 'template', 'status', 'customerId', 'orderId', 'sentAt', 'reason']} />
        ) : null}
        {cursor.pager(nextOf(list.data))}
      </Section>
    </>
  );
}
