import { timingSafeEqual } from 'node:crypto';
import { HttpError, readJson, type ServiceDeps, UnauthorizedError, withTransaction } from '@jetsaga/platform';
import { Hono } from 'hono';
import { z } from 'zod';
import { attemptEmail, type Dispatcher } from '../notifications/dispatch.js';
import { messageIdFor, nameBasedId } from '../notifications/notification.js';
import { beginAttempts, insertNotifications, markFailed, markSent } from '../notifications/store.js';
import { render } from '../notifications/templates.js';

/** Where Alertmanager posts (webhook_configs url); outside /api: Alertmanager holds a static token, not a user's. */
export const ALERT_WEBHOOK_PATH = '/hooks/alertmanager';

const alertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()).default({}),
  startsAt: z.string(),
  endsAt: z.string().optional(),
  fingerprint: z.string().default(''),
});

/** Alertmanager's webhook payload (version 4), the parts an email needs. */
const payloadSchema = z.object({
  version: z.string().optional(),
  groupKey: z.string(),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string().optional(),
  commonLabels: z.record(z.string(), z.string()).default({}),
  commonAnnotations: z.record(z.string(), z.string()).default({}),
  alerts: z.array(alertSchema).min(1).max(1000),
});
export type AlertPayload = z.infer<typeof payloadSchema>;

/**
 * Pure: the notification id of one webhook call. Alertmanager sends a group again on its repeat interval and after a
 * failed delivery; the same group, status and alerts (fingerprint and start) make the same id, so the same email is
 * not sent twice; a new alert in the group, or its resolution, is a new email.
 */
export function alertNotificationId(payload: AlertPayload): string {
  const alerts = payload.alerts.map((alert) => `${alert.fingerprint}@${alert.startsAt}:${alert.status}`).sort();
  return nameBasedId(`alert:${payload.groupKey}:${payload.status}:${alerts.join(',')}`);
}

export type AlertWebhookOptions = Pick<ServiceDeps, 'db' | 'log'> & {
  dispatcher: Dispatcher;
  token?: string;
  oncallEmail?: string;
  messageIdDomain: string;
};

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Alerts reach people: each webhook call emails the on-call address once (answering 5xx makes Alertmanager retry). */
export function alertWebhook(options: AlertWebhookOptions): Hono {
  const app = new Hono();
  app.post(ALERT_WEBHOOK_PATH, async function alertmanagerWebhook(c) {
    if (!options.token || !options.oncallEmail) {
      throw new HttpError(503, 'Alert webhook not configured', 'set ALERT_WEBHOOK_TOKEN and ONCALL_EMAIL to receive alerts');
    }
    const header = c.req.header('authorization') ?? '';
    const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
    if (!sameToken(token, options.token)) throw new UnauthorizedError('the alert webhook needs its bearer token');
    const payload = await readJson(c, payloadSchema);
    const alertName = payload.commonLabels.alertname ?? payload.alerts[0]?.labels.alertname ?? 'alert';
    const rendered = render('alert', 'en', {
      alertName,
      severity: payload.commonLabels.severity ?? payload.alerts[0]?.labels.severity ?? 'unknown',
      alertStatus: payload.status,
      summary: payload.commonAnnotations.summary ?? payload.alerts[0]?.annotations.summary ?? '',
      description: payload.commonAnnotations.description ?? '',
      alerts: payload.alerts.map((alert) => ({
        name: alert.labels.alertname ?? alertName,
        status: alert.status,
        summary: alert.annotations.summary ?? '',
        startsAt: alert.startsAt,
        labels: Object.entries(alert.labels)
          .map(([key, value]) => `${key}=${value}`)
          .join(', '),
      })),
    });
    const id = alertNotificationId(payload);
    const messageId = messageIdFor(id, options.messageIdDomain);
    const before = await withTransaction(options.db, async (tx) => {
      await insertNotifications(tx, [
        {
          id,
          // An alert is caused by no domain event: the notification is its own source.
          sourceEventId: id,
          sourceEventType: 'Alert',
          template: 'alert',
          locale: 'en',
          customerId: null,
          orderId: null,
          to: options.oncallEmail!,
          subject: rendered.subject,
          messageId,
          status: 'PENDING',
          reason: null,
        },
      ]);
      return (await beginAttempts(tx, [id])).get(id)!;
    });
    const result = await attemptEmail(options.dispatcher, before, { to: before.to, ...rendered, messageId }, 'alert');
    await withTransaction(options.db, async (tx) => {
      if (result.kind === 'sent') await markSent(tx, [{ id, response: result.response, deduplicated: result.deduplicated }], new Date());
      if (result.kind === 'failed') {
        await markFailed(tx, [{ id, error: result.outcome.error, outcomeUnknown: result.outcome.kind === 'unknown', final: false }]);
      }
    });
    if (result.kind === 'failed') throw new HttpError(502, 'Email not sent', `the on-call email was not sent: ${result.outcome.error}`);
    options.log.info({ alertName, status: payload.status, notificationId: id, messageId }, 'alert emailed to on-call');
    return c.json({ notificationId: id, messageId, status: 'SENT', deduplicated: result.kind === 'done' });
  });
  return app;
}
