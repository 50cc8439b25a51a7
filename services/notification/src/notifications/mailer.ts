import { currentTraceId, tracer } from '@jetsaga/platform';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import nodemailer from 'nodemailer';
import { recordSmtp } from './metrics.js';
import { classifySmtpError, type SmtpError, type SmtpOutcome } from './notification.js';

export type SmtpConfig = {
  host: string;
  port: number;
  /** TLS from the first byte (port 465); otherwise STARTTLS is used when offered, and required with `requireTls`. */
  secure: boolean;
  requireTls: boolean;
  user?: string;
  password?: string;
  from: string;
  timeoutMs: number;
};

export type Email = { to: string; subject: string; text: string; html: string; messageId: string; headers?: Record<string, string> };

/** Sends one email and says how it ended; never throws for an SMTP failure (the outcome carries it). */
export type Mailer = { send(email: Email): Promise<SmtpOutcome>; close(): void };

/**
 * SMTP through nodemailer, one connection per send (pooled connections would share one socket's fate between
 * emails, and an outcome must be known per email). Each send is a CLIENT span `smtp send` with its outcome.
 */
export function smtpMailer(config: SmtpConfig): Mailer {
  const transport = nodemailer.createTransport({
    host: config.host,
    port: config.port,
    secure: config.secure,
    requireTLS: config.requireTls,
    ...(config.user ? { auth: { user: config.user, pass: config.password ?? '' } } : {}),
    connectionTimeout: config.timeoutMs,
    greetingTimeout: config.timeoutMs,
    socketTimeout: config.timeoutMs,
  });
  return {
    send: (email) =>
      tracer().startActiveSpan(
        'smtp send',
        {
          kind: SpanKind.CLIENT,
          attributes: { 'server.address': config.host, 'server.port': config.port, 'jetsaga.message_id': email.messageId },
        },
        async (span) => {
          const started = performance.now();
          let outcome: SmtpOutcome;
          try {
            const info = await transport.sendMail({
              from: config.from,
              to: email.to,
              subject: email.subject,
              text: email.text,
              html: email.html,
              messageId: `<${email.messageId}>`,
              ...(email.headers ? { headers: email.headers } : {}),
            });
            outcome = { kind: 'sent', response: String(info.response ?? '') };
          } catch (error) {
            outcome = classifySmtpError(error as SmtpError);
          }
          recordSmtp(outcome.kind, (performance.now() - started) / 1000, currentTraceId());
          span.setAttribute('jetsaga.smtp_outcome', outcome.kind);
          if (outcome.kind !== 'sent') span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error });
          span.end();
          return outcome;
        },
      ),
    close: () => transport.close(),
  };
}

/**
 * Asks the receiving side whether a Message-ID arrived: a Mailpit-compatible search API (MAIL_LOOKUP_URL). It closes
 * the window of an SMTP session that ended without its final answer (ADR 0050); undefined when the API cannot say.
 */
export type DeliveryLookup = (messageId: string) => Promise<boolean | undefined>;

export function mailpitLookup(baseUrl: string, timeoutMs: number): DeliveryLookup {
  return async (messageId) => {
    try {
      const url = `${baseUrl.replace(/\/$/, '')}/api/v1/search?query=${encodeURIComponent(`message-id:"${messageId}"`)}`;
      const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) return undefined;
      const body = (await response.json()) as { messages_count?: number; total?: number };
      return (body.messages_count ?? 0) > 0;
    } catch {
      return undefined;
    }
  };
}
