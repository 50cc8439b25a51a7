import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AlertmanagerServer,
  ensureAlertmanager,
  ensurePrometheus,
  type PrometheusServer,
  startAlertmanager,
  startPrometheus,
  waitFor,
} from '@jetsaga/devstack';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from './support/harness.js';
import { mailbox, notificationsApi } from './support/notification.js';

/**
 * Alerts reach people: a rule that fires on the system's real metrics, evaluated by a real Prometheus, routed by
 * severity by a real Alertmanager to notification's webhook (with its bearer token), which emails the on-call address
 * through Mailpit.
 */
const ONCALL = 'oncall@jetsaga.test';
const TOKEN = `alert-webhook-${Math.random().toString(36).slice(2)}-token`;

let t: TestSystem;
let alertmanager: AlertmanagerServer;
let prometheus: PrometheusServer;

beforeAll(async () => {
  const say = (message: string) => console.log(`[alerts] ${message}`);
  const [alertmanagerBin, tools] = await Promise.all([ensureAlertmanager(say), ensurePrometheus(say)]);
  t = await startTestSystem({ ONCALL_EMAIL: ONCALL, ALERT_WEBHOOK_TOKEN: TOKEN });
  const dir = await mkdtemp(join(tmpdir(), 'jetsaga-alerts-'));
  const webhook = (severity: string) => `
  - name: oncall-${severity}
    webhook_configs:
      - url: ${t.system.urls.notification}/hooks/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: ${TOKEN}`;
  alertmanager = await startAlertmanager({
    bin: alertmanagerBin,
    dir: join(dir, 'alertmanager'),
    config: `route:
  receiver: oncall-warning
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['severity="critical"']
      receiver: oncall-critical
    - matchers: ['severity="warning"']
      receiver: oncall-warning
receivers:${webhook('critical')}${webhook('warning')}
`,
  });
  const prometheusDir = join(dir, 'prometheus');
  prometheus = await startPrometheus({
    bin: tools.prometheus,
    dir: prometheusDir,
    config: `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [test-rules.yml]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['${new URL(alertmanager.url).host}']
scrape_configs:
  - job_name: notification
    static_configs:
      - targets: ['${new URL(t.system.metricsUrls.notification).host}']
`,
  });
  // A test-only rule on real data: it fires once the notification service reports an email sent.
  await writeFile(
    join(prometheusDir, 'test-rules.yml'),
    `groups:
  - name: notification-test
    rules:
      - alert: JetsagaTestEmailSent
        expr: max(jetsaga_notifications{status="SENT"}) > 0
        labels:
          severity: critical
        annotations:
          summary: The notification service sent an email (a test alert on real data)
`,
  );
  await fetch(`${prometheus.url}/-/reload`, { method: 'POST' });
}, 240_000);

afterAll(async () => {
  await prometheus?.stop();
  await alertmanager?.stop();
  await t?.stop();
});

describe('alerts reach the on-call address by email', () => {
  it('emails a firing alert from real Prometheus and Alertmanager to ONCALL_EMAIL', async () => {
    const notifications = notificationsApi(t.api);
    const customer = await notifications.customer(100_000);
    const product = await t.api.product(5, 700);
    const orderId = await t.api.buy(customer.id, product.id, 1);
    await t.api.terminal(orderId);
    await notifications.settled(orderId, 'order-completed');
    const mail = mailbox(t.mailpit.httpUrl);
    const [email] = await waitFor(
      'the alert email',
      async () => {
        const found = await mail.to(ONCALL);
        return found.length > 0 ? found : undefined;
      },
      60_000,
      250,
    );
    expect(email!.Subject).toBe('[FIRING] JetsagaTestEmailSent (critical)');
    expect(await mail.text(email!.ID)).toContain('The notification service sent an email');
    const recorded = await t.api.ok<{ notifications: Array<{ template: string; to: string; status: string; customerId: string | null }> }>(
      'GET',
      '/api/notifications?status=SENT&limit=500',
    );
    expect(recorded.notifications.filter((n) => n.template === 'alert')).toEqual([
      expect.objectContaining({ to: ONCALL, status: 'SENT', customerId: null }),
    ]);
    // The same group again (Alertmanager retries, repeats) is the same email: still one.
    expect(await mail.to(ONCALL)).toHaveLength(1);
  });

  it('refuses a webhook call without its token', async () => {
    const body = JSON.stringify({
      groupKey: 'x',
      status: 'firing',
      alerts: [{ status: 'firing', labels: {}, startsAt: new Date().toISOString() }],
    });
    const response = await fetch(`${t.system.urls.notification}/hooks/alertmanager`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', authorization: 'Bearer wrong' },
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
  });
});
