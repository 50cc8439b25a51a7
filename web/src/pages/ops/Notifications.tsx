import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Badge, ErrorNote, Field, Json, Section, useCursor } from '../../components/ui.js';
import { api, query } from '../../lib/api.js';
import { shortId, time } from '../../lib/format.js';
import { Link, setSearch, useLocation } from '../../lib/router.js';

type Notification = {
  id: string;
  status: 'PENDING' | 'SENT' | 'FAILED' | 'SUPPRESSED';
  template: string;
  locale: string;
  to: string;
  subject: string;
  customerId: string | null;
  orderId: string | null;
  sourceEventId: string;
  sourceEventType: string;
  messageId: string;
  reason: string | null;
  attempts: number;
  lastError: string | null;
  createdAt: string;
  sentAt: string | null;
};

const STATUSES = ['PENDING', 'SENT', 'FAILED', 'SUPPRESSED'];

/** What the notification service sent, is sending, failed to send or chose not to (services/notification, issue 15). */
export default function Notifications() {
  const { search } = useLocation();
  const customerId = search.get('customerId') ?? '';
  const orderId = search.get('orderId') ?? '';
  const status = search.get('status') ?? '';
  const cursor = useCursor();
  const [open, setOpen] = useState<string | null>(null);
  const list = useQuery({
    queryKey: ['notifications', customerId, orderId, status, cursor.after],
    queryFn: () =>
      api<{ notifications: Notification[]; next: string | null }>(
        `/api/notifications${query({ customerId, orderId, status, after: cursor.after, limit: 50 })}`,
      ),
    placeholderData: (previous) => previous,
    // An email on its way (or being retried) is asked again until it is settled.
    refetchInterval: (current) =>
      current.state.data?.notifications.some((notification) => notification.status === 'PENDING') ? 2000 : false,
  });
  const chosen = list.data?.notifications.find((notification) => notification.id === open);
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
            setSearch({
              customerId: String(form.get('customerId') ?? '').trim(),
              orderId: String(form.get('orderId') ?? '').trim(),
              status: String(form.get('status') ?? ''),
            });
          }}
        >
          <Field label="Customer id">
            <input name="customerId" defaultValue={customerId} />
          </Field>
          <Field label="Order id">
            <input name="orderId" defaultValue={orderId} />
          </Field>
          <Field label="Status">
            <select name="status" defaultValue={status}>
              <option value="">any</option>
              {STATUSES.map((value) => (
                <option key={value}>{value}</option>
              ))}
            </select>
          </Field>
          <button type="submit">Apply</button>
        </form>
      </Section>
      <Section title="Emails, oldest first">
        <ErrorNote error={list.error} />
        {list.data ? (
          <div className="grid2 wide-left">
            <table aria-label="Notifications">
              <thead>
                <tr>
                  <th scope="col">Email</th>
                  <th scope="col">Status</th>
                  <th scope="col">Because of</th>
                  <th scope="col">Order</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {list.data.notifications.map((notification) => (
                  <tr key={notification.id} data-id={notification.id} aria-selected={open === notification.id}>
                    <td>
                      <button type="button" className="linkish" onClick={() => setOpen(notification.id)}>
                        {notification.template}
                      </button>
                    </td>
                    <td>
                      <Badge value={notification.status} /> {notification.reason ?? ''}
                    </td>
                    <td>{notification.sourceEventType}</td>
                    <td>
                      {notification.orderId ? (
                        <Link href={`/orders/${notification.orderId}`}>
                          <code>{shortId(notification.orderId)}</code>
                        </Link>
                      ) : (
                        '—'
                      )}
                    </td>
                    <td>{notification.attempts}</td>
                    <td>{time(notification.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <div>
              <h3>Email</h3>
              {chosen ? <Json value={chosen} /> : <p>Choose an email to see its subject, recipient, attempts and last error.</p>}
            </div>
          </div>
        ) : (
          <p aria-busy="true">Loading…</p>
        )}
        {list.data?.notifications.length === 0 ? <p>No email yet.</p> : null}
        {cursor.pager(list.data?.next)}
      </Section>
    </>
  );
}
