import { waitFor } from '@jetsaga/devstack';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from './support/api.js';
import { startTestSystem, type TestSystem, waitForConsumerIdle } from './support/harness.js';
import { type Mailbox, mailbox, type Notification, notificationsApi } from './support/notification.js';
import { changeCount, quietChangeCount, expectProblem } from './support/problems.js';

let t: TestSystem;
let api: Api;
let mail: Mailbox;
let notifications: ReturnType<typeof notificationsApi>;

beforeAll(async () => {
  t = await startTestSystem({ NOTIFY_RETRY_BACKOFF_MS: '200,400,800,1600' });
  api = t.api;
  mail = mailbox(t.mailpit.httpUrl);
  notifications = notificationsApi(api);
});

afterAll(async () => {
  await t?.stop();
});

/** A customer's completed (or cancelled) order and its settled notification. */
async function orderOf(
  customer: { id: string },
  stock = 10,
  template = 'order-completed',
): Promise<{ orderId: string; notification: Notification }> {
  const product = await api.product(stock, 1_234);
  const orderId = await api.buy(customer.id, product.id, 1);
  await api.terminal(orderId);
  return { orderId, notification: await notifications.settled(orderId, template) };
}

describe('emails about orders, through a real SMTP server (Mailpit)', () => {
  it('sends exactly one email when an order completes, with its subject in English', async () => {
    const customer = await notifications.customer(100_000);
    const { orderId, notification } = await orderOf(customer);
    expect(notification).toMatchObject({ status: 'SENT', template: 'order-completed', locale: 'en', to: customer.email });
    expect(notification.subject).toBe(`Your order ${orderId.slice(0, 8).toUpperCase()} is confirmed`);
    const received = await mail.byMessageId(notification.messageId);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ Subject: notification.subject, To: [{ Address: customer.email }] });
    expect(await mail.text(received[0]!.ID)).toContain('12.34');
  });

  it('writes in French to a customer whose locale is fr', async () => {
    const customer = await notifications.customer(100_000, { locale: 'fr', name: 'Émilie du Châtelet' });
    const { orderId, notification } = await orderOf(customer);
    expect(notification).toMatchObject({ status: 'SENT', locale: 'fr' });
    const [received] = await mail.byMessageId(notification.messageId);
    expect(received?.Subject).toBe(`Votre commande ${orderId.slice(0, 8).toUpperCase()} est confirmée`);
    const text = await mail.text(received!.ID);
    expect(text).toContain('Bonjour Émilie du Châtelet');
    expect(text).toContain('12,34');
  });

  it('emails a cancelled order with its reason', async () => {
    const customer = await notifications.customer(100);
    const { notification } = await orderOf(customer, 10, 'order-cancelled');
    expect(notification).toMatchObject({ status: 'SENT', template: 'order-cancelled' });
    const [received] = await mail.byMessageId(notification.messageId);
    expect(await mail.text(received!.ID)).toContain('the payment was refused');
  });

  it('sends no second email when the same event is delivered again', async () => {
    const customer = await notifications.customer(100_000);
    const { orderId, notification } = await orderOf(customer);
    const jsm = await jetstreamManager(t.nc);
    const stored = await jsm.streams.getMessage('EVENTS', { last_by_subj: `events.order.${orderId}.OrderCompleted` });
    // The same message again, to notification alone, as a redrive delivers it.
    await jetstream(t.nc).publish('dlq.redrive.notification', stored!.data, { msgID: `again:${notification.sourceEventId}` });
    await waitFor('the copy to be handled', async () => {
      const info = await jsm.consumers.info('DLQ', 'notification-redrive');
      return info.delivered.stream_seq > 0 && info.num_pending === 0 && info.num_ack_pending === 0;
    });
    await waitForConsumerIdle(t.nc, 'EVENTS', 'notification');
    expect(await mail.byMessageId(notification.messageId)).toHaveLength(1);
    const after = await api.ok<Notification>('GET', `/api/notifications/${notification.id}`);
    expect(after).toMatchObject({ status: 'SENT', attempts: 1 });
  });

  it('records an opted-out customer SUPPRESSED and sends nothing', async () => {
    const customer = await notifications.customer(100_000);
    const self = api.as('customer', customer.id);
    const put = await self.call('PUT', `/api/customers/${customer.id}/notification-preferences`, { email: false });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ customerId: customer.id, email: false });
    const { notification } = await orderOf(customer);
    expect(notification).toMatchObject({ status: 'SUPPRESSED', reason: 'OPTED_OUT' });
    expect(await mail.byMessageId(notification.messageId)).toHaveLength(0);
    expect(await mail.to(customer.email)).toHaveLength(0);
  });

  it('shows a customer their own notifications only; agents see all', async () => {
    const customer = await notifications.customer(100_000);
    const other = await notifications.customer(100_000);
    const { notification } = await orderOf(customer);
    const self = api.as('customer', customer.id);
    expect((await self.call('GET', `/api/notifications/${notification.id}`)).status).toBe(200);
    const mine = await self.ok<{ notifications: Notification[] }>('GET', '/api/notifications');
    expect(mine.notifications.every((n) => n.customerId === customer.id)).toBe(true);
    expect(mine.notifications.map((n) => n.id)).toContain(notification.id);
    expectProblem(await api.as('customer', other.id).call('GET', `/api/notifications/${notification.id}`), 403);
    expectProblem(await api.as('customer', other.id).call('GET', `/api/notifications?customerId=${customer.id}`), 403);
    expectProblem(
      await api.as('customer', other.id).call('PUT', `/api/customers/${customer.id}/notification-preferences`, { email: false }),
      403,
    );
    expect((await api.as('agent').call('GET', `/api/notifications/${notification.id}`)).status).toBe(200);
  });

  it('answers bad requests with problem+json and changes nothing', async () => {
    const customer = await notifications.customer(100_000);
    const before = await quietChangeCount(t);
    expectProblem(await api.call('GET', '/api/notifications?limit=0'), 400, 'limit');
    expectProblem(await api.call('GET', '/api/notifications?status=LOST'), 400, 'status');
    expectProblem(await api.call('GET', '/api/notifications?after=not-a-cursor'), 400, 'after');
    expectProblem(await api.call('GET', '/api/notifications?customerId=nope'), 400, 'customerId');
    expectProblem(await api.call('GET', '/api/notifications/00000000-0000-4000-8000-000000000000'), 404);
    expectProblem(await api.call('PUT', `/api/customers/${customer.id}/notification-preferences`, { email: 'no' }), 400, 'email');
    expectProblem(await api.call('PUT', `/api/customers/${customer.id}/notification-preferences`, { email: false, sms: true }), 400);
    expectProblem(await api.call('PUT', `/api/customers/${customer.id}/notification-preferences`, undefined, '{'), 400);
    expectProblem(
      await api.call('POST', '/api/customers', { name: 'x', email: 'x@example.org', balanceCents: 1, locale: 'de' }),
      400,
      'locale',
    );
    expect(await changeCount(t.sql)).toEqual(before);
  });
});
