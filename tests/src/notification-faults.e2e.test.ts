import { waitFor } from '@jetsaga/devstack';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from './support/api.js';
import { startTestSystem, type TestSystem } from './support/harness.js';
import { type Mailbox, mailbox, type Notification, notificationsApi } from './support/notification.js';
import { type SmtpProxy, startSmtpProxy } from './support/smtp-proxy.js';

/**
 * Notification against a failing SMTP side: the server down, a server that accepted a message and went silent before
 * answering (a real TCP proxy in front of Mailpit withholds its reply), and the notification process killed while a
 * send was in flight. Each time: exactly one email per event in Mailpit, counted by Message-ID through its API.
 */
let t: TestSystem;
let api: Api;
let mail: Mailbox;
let proxy: SmtpProxy;
let notifications: ReturnType<typeof notificationsApi>;

beforeAll(async () => {
  proxy = await startSmtpProxy();
  // Notification sends through the proxy; it looks up unknown outcomes in Mailpit directly (MAIL_LOOKUP_URL).
  t = await startTestSystem({ SMTP_PORT: String(proxy.port), SMTP_TIMEOUT_MS: '2000', NOTIFY_RETRY_BACKOFF_MS: '200,400,800,1600' });
  proxy.target(t.mailpit.smtpPort);
  api = t.api;
  mail = mailbox(t.mailpit.httpUrl);
  notifications = notificationsApi(api);
});

afterAll(async () => {
  await t?.stop();
  await proxy?.close();
});

async function completedOrder(): Promise<string> {
  const customer = await notifications.customer(100_000);
  const product = await api.product(10, 500);
  const orderId = await api.buy(customer.id, product.id, 1);
  expect((await api.terminal(orderId)).status).toBe('COMPLETED');
  return orderId;
}

const notificationOf = (orderId: string, status: Notification['status'], timeoutMs = 60_000) =>
  waitFor(
    `order ${orderId}'s email ${status}`,
    async () => (await notifications.list({ orderId })).find((n) => n.template === 'order-completed' && n.status === status),
    timeoutMs,
  );

async function storedEvent(subject: string): Promise<unknown> {
  const jsm = await jetstreamManager(t.nc);
  const message = await jsm.streams.getMessage('EVENTS', { last_by_subj: subject }).catch(() => null);
  return message ? message.json() : undefined;
}

describe('exactly one email when SMTP fails', () => {
  it('retries while the SMTP server is down, dead-letters, and a redrive after it is back sends exactly once', async () => {
    await t.mailpit.stop();
    let orderId: string;
    try {
      orderId = await completedOrder();
      const failed = await notificationOf(orderId, 'FAILED');
      expect(failed.attempts).toBe(5);
      expect(await storedEvent(`events.notification.${failed.id}.NotificationFailed`)).toMatchObject({
        data: { notificationId: failed.id, sourceEventId: failed.sourceEventId, attempts: 5 },
      });
    } finally {
      await t.mailpit.start();
    }
    const failed = await notificationOf(orderId, 'FAILED');
    const letter = await waitFor('its dead letter', async () => {
      const { messages } = await api.ok<{ messages: Array<{ id: string; payload: { id?: string } }> }>(
        'GET',
        '/api/dlq?consumer=notification',
      );
      return messages.find((m) => m.payload.id === failed.sourceEventId);
    });
    expect(await mail.byMessageId(failed.messageId)).toHaveLength(0);
    expect((await api.call('POST', `/api/dlq/${letter.id}/redrive`)).status).toBe(202);
    const sent = await notificationOf(orderId, 'SENT');
    expect(sent.id).toBe(failed.id);
    expect(await mail.byMessageId(sent.messageId)).toHaveLength(1);
    expect(await storedEvent(`events.notification.${sent.id}.NotificationSent`)).toMatchObject({
      data: { notificationId: sent.id, messageId: sent.messageId },
    });
  });

  it('a server that accepted the message but never answered gets it once: the next attempt finds it by Message-ID', async () => {
    const before = proxy.withheld();
    proxy.withholdNextAcceptance();
    const orderId = await completedOrder();
    const sent = await notificationOf(orderId, 'SENT');
    expect(proxy.withheld()).toBe(before + 1);
    expect(sent.attempts).toBeGreaterThanOrEqual(2);
    expect(await mail.byMessageId(sent.messageId)).toHaveLength(1);
  });

  it('a notification process killed while its sends are in flight sends each email once after its restart', async () => {
    const restarts = t.system.supervisor.restarts('notification');
    const before = proxy.withheld();
    // The first email of the batch is accepted by Mailpit and its answer held back: the process is killed then.
    proxy.withholdNextAcceptance();
    const orders = await Promise.all([completedOrder(), completedOrder(), completedOrder()]);
    await waitFor('an acceptance withheld', async () => proxy.withheld() > before, 30_000);
    t.system.supervisor.signal('notification', 'SIGKILL');
    await waitFor('notification restarted', async () => t.system.supervisor.restarts('notification') > restarts, 30_000);
    // Unacknowledged messages come back after the consumer's ack wait (30 s).
    for (const orderId of orders) {
      const sent = await notificationOf(orderId, 'SENT', 90_000);
      expect(await mail.byMessageId(sent.messageId), orderId).toHaveLength(1);
    }
  });
});
