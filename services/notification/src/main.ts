import { configFields, loadConfig, runService } from '@jetsaga/platform';
import { z } from 'zod';
import { notificationApi } from './api.js';
import { migrations } from './migrations.js';
import { notificationConsumer } from './notifications/consumer.js';
import { mailpitLookup, smtpMailer } from './notifications/mailer.js';
import { watchNotifications } from './notifications/metrics.js';

const milliseconds = z
  .string()
  .regex(/^\d+(,\d+)*$/, 'comma-separated milliseconds')
  .transform((value) => value.split(',').map(Number));

const config = loadConfig(
  z.object({
    SMTP_HOST: z.string().min(1).default('127.0.0.1'),
    SMTP_PORT: configFields.port(1025),
    /** TLS from the first byte (port 465). */
    SMTP_SECURE: configFields.flag(),
    /** Refuse to send unless the server upgrades the session with STARTTLS. */
    SMTP_STARTTLS: configFields.flag(),
    SMTP_USER: z.string().min(1).optional(),
    SMTP_PASSWORD: z.string().min(1).optional(),
    SMTP_TIMEOUT_MS: configFields.milliseconds(10_000),
    MAIL_FROM: z.string().min(3).default('jetsaga <no-reply@jetsaga.local>'),
    /** Message-IDs are `<notification id>@<this>`; by default the domain of MAIL_FROM. */
    MAIL_MESSAGE_ID_DOMAIN: z.string().min(1).optional(),
    /**
     * A Mailpit-compatible search API of the receiving side: an email whose SMTP outcome is unknown is looked up there
     * by Message-ID before it is sent again (ADR 0050). Unset for a provider without one: it is sent again, same Message-ID.
     */
    MAIL_LOOKUP_URL: z.url().optional(),
    /** Where alerts go (Alertmanager's webhook), and the token Alertmanager sends with them. */
    ONCALL_EMAIL: z.string().min(3).optional(),
    ALERT_WEBHOOK_TOKEN: z.string().min(16).optional(),
    /** The retry schedule of a failed email (the attempts stay five: k8s/topology); tests shorten it. */
    NOTIFY_RETRY_BACKOFF_MS: milliseconds.default([1000, 5000, 30_000, 60_000]).refine((steps) => steps.length === 4, 'four steps'),
  }),
);

const fromDomain = /@([^>\s]+)>?\s*$/.exec(config.MAIL_FROM)?.[1] ?? 'jetsaga.local';
const messageIdDomain = config.MAIL_MESSAGE_ID_DOMAIN ?? fromDomain;
const mailer = smtpMailer({
  host: config.SMTP_HOST,
  port: config.SMTP_PORT,
  secure: config.SMTP_SECURE,
  requireTls: config.SMTP_STARTTLS,
  ...(config.SMTP_USER ? { user: config.SMTP_USER, password: config.SMTP_PASSWORD ?? '' } : {}),
  from: config.MAIL_FROM,
  timeoutMs: config.SMTP_TIMEOUT_MS,
});
const lookup = config.MAIL_LOOKUP_URL ? mailpitLookup(config.MAIL_LOOKUP_URL, config.SMTP_TIMEOUT_MS) : undefined;

const service = await runService({
  name: 'notification',
  schema: 'notification',
  defaultPort: 8088,
  migrations,
  routes: (deps) =>
    notificationApi({
      ...deps,
      dispatcher: { mailer, log: deps.log, ...(lookup ? { lookup } : {}) },
      messageIdDomain,
      ...(config.ALERT_WEBHOOK_TOKEN ? { token: config.ALERT_WEBHOOK_TOKEN } : {}),
      ...(config.ONCALL_EMAIL ? { oncallEmail: config.ONCALL_EMAIL } : {}),
    }),
  consumers: (deps) => [
    notificationConsumer({
      ...deps,
      dispatcher: { mailer, log: deps.log, ...(lookup ? { lookup } : {}) },
      messageIdDomain,
      backoffMs: config.NOTIFY_RETRY_BACKOFF_MS,
    }),
  ],
});
watchNotifications(service.deps.db);
service.deps.log.info(
  { smtp: `${config.SMTP_HOST}:${config.SMTP_PORT}`, lookup: Boolean(lookup), oncall: Boolean(config.ONCALL_EMAIL) },
  'notification sends email over SMTP',
);
