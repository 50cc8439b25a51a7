import { waitFor } from '@jetsaga/devstack';
import type { Api } from './api.js';

export type Notification = {
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
  sentAt: string | null;
};

export type MailpitMessage = { ID: string; MessageID: string; Subject: string; To: Array<{ Address: string }> };

/** Mailpit's HTTP API: what really arrived at the SMTP server. */
export function mailbox(httpUrl: string) {
  const search = async (query: string): Promise<MailpitMessage[]> => {
    const response = await fetch(`${httpUrl}/api/v1/search?query=${encodeURIComponent(query)}&limit=1000`);
    if (!response.ok) throw new Error(`mailpit search answered ${response.status}`);
    return ((await response.json()) as { messages: MailpitMessage[] }).messages;
  };
  return {
    search,
    byMessageId: (messageId: string) => search(`message-id:"${messageId}"`),
    to: (address: string) => search(`to:"${address}"`),
    /** The text part of a message. */
    text: async (id: string): Promise<string> => {
      const response = await fetch(`${httpUrl}/api/v1/message/${id}`);
      return ((await response.json()) as { Text: string }).Text;
    },
    /** Every message, as many as there are (Mailpit pages its list). */
    all: async (): Promise<MailpitMessage[]> => {
      const messages: MailpitMessage[] = [];
      for (let start = 0; ; start += 1000) {
        const response = await fetch(`${httpUrl}/api/v1/messages?start=${start}&limit=1000`);
        const page = (await response.json()) as { messages: MailpitMessage[]; messages_count: number };
        messages.push(...page.messages);
        if (page.messages.length === 0 || messages.length >= page.messages_count) return messages;
      }
    },
  };
}
export type Mailbox = ReturnType<typeof mailbox>;

/** Notification's API through the gateway. */
export function notificationsApi(api: Api) {
  const list = async (query: Record<string, string>) =>
    (await api.ok<{ notifications: Notification[]; next: string | null }>('GET', `/api/notifications?${new URLSearchParams(query)}`))
      .notifications;
  return {
    list,
    /** Waits until the notifications of an order include one of `template` in a settled state (not PENDING). */
    settled: (orderId: string, template: string, timeoutMs = 30_000) =>
      waitFor(
        `a settled ${template} notification of order ${orderId}`,
        async () => (await list({ orderId })).find((n) => n.template === template && n.status !== 'PENDING'),
        timeoutMs,
      ),
    /** A customer with an email address of their own (and a locale). */
    customer: (balanceCents: number, options: { locale?: 'en' | 'fr'; name?: string } = {}) => {
      const email = `n${Math.random().toString(36).slice(2)}@example.org`;
      return api
        .ok<{ id: string }>('POST', '/api/customers', {
          name: options.name ?? 'Ada Lovelace',
          email,
          balanceCents,
          ...(options.locale ? { locale: options.locale } : {}),
        })
        .then((customer) => ({ ...customer, email }));
    },
  };
}
