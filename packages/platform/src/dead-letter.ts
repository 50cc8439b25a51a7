import { dlqRedriveSubject, dlqSubject } from '@jetsaga/events';
import type { JetStreamClient } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { scrubPersonalData } from './redact.js';

/**
 * Dead letters, built in one place for every path that makes them: a consumer giving up on a message, the outbox
 * relay when JetStream refuses a message, and the event store when a max-deliveries advisory shows a consumer died on
 * its last attempt. The DLQ routes read them back through `readDeadLetter`, so what is written and what is shown agree.
 */

/**
 * Why a message went to the dead-letter stream: unparseable or schema-invalid (`poison`), a permanent handler error
 * (`permanent`), its last attempt failed (`exhausted`), its consumer died during the last attempt (`max-deliveries`),
 * JetStream refused to store it (`rejected`, outbox).
 */
export type DeadLetterReason = 'poison' | 'permanent' | 'exhausted' | 'max-deliveries' | 'rejected';

export const DLQ_HEADERS = {
  subject: 'Jetsaga-Dlq-Subject',
  stream: 'Jetsaga-Dlq-Stream',
  sequence: 'Jetsaga-Dlq-Sequence',
  consumer: 'Jetsaga-Dlq-Consumer',
  attempts: 'Jetsaga-Dlq-Attempts',
  reason: 'Jetsaga-Dlq-Reason',
  error: 'Jetsaga-Dlq-Error',
  failedAt: 'Jetsaga-Dlq-Failed-At',
} as const;

/**
 * The original's JetStream headers (`Nats-*`: message id, expected sequences, schedules) are kept under this prefix:
 * published as they were, the server would act on them for the dead letter itself.
 */
export const ORIGINAL_NATS_HEADER_PREFIX = 'Jetsaga-Original-';

export type DeadLetterInput = {
  /** The durable that failed, or `outbox-<schema>` for the relay; the dead letter goes to `dlq.<consumer>`. */
  consumer: string;
  reason: DeadLetterReason;
  error: unknown;
  attempts: number;
  failedAt: Date;
  /** De-duplicates a dead letter published twice (a retry after a lost ack). */
  messageId: string;
  original: {
    subject: string;
    /** The stream and sequence that stored it; absent when no stream did (outbox `rejected`). */
    stream?: string;
    sequence?: number;
    /** Its headers, trace context (`traceparent`, `tracestate`) included. */
    headers: Readonly<Record<string, string>>;
    payload: Uint8Array;
  };
};

export type DeadLetterMessage = { subject: string; headers: Record<string, string>; payload: Uint8Array; messageId: string };

/**
 * Header values cannot hold line breaks, and an error message is no place for a stack trace's worth of text, nor
 * for the email address a mail server's refusal quotes (the DLQ keeps it as long as the message: ADR 0052).
 */
function errorText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return scrubPersonalData(message.replace(/[\r\n]+/g, ' ')).slice(0, 1024);
}

export function buildDeadLetter(input: DeadLetterInput): DeadLetterMessage {
  const { original } = input;
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(original.headers)) {
    if (!key.startsWith('Nats-')) headers[key] = value;
  }
  for (const [key, value] of Object.entries(original.headers)) {
    // A redriven message already carries the first original's; the redrive's own message id must not replace them.
    if (key.startsWith('Nats-')) headers[`${ORIGINAL_NATS_HEADER_PREFIX}${key}`] ??= value;
  }
  // A redriven message that fails again keeps naming where it first came from.
  const redriven = original.subject === dlqRedriveSubject(input.consumer);
  const first = (key: string, value: string | undefined) => (redriven ? (original.headers[key] ?? value) : value);
  const set = (key: string, value: string | undefined) => {
    if (value === undefined || value === '') delete headers[key];
    else headers[key] = value;
  };
  set(DLQ_HEADERS.subject, first(DLQ_HEADERS.subject, original.subject));
  set(DLQ_HEADERS.stream, first(DLQ_HEADERS.stream, original.stream));
  set(DLQ_HEADERS.sequence, first(DLQ_HEADERS.sequence, redriven ? undefined : original.sequence?.toString()));
  set(DLQ_HEADERS.consumer, input.consumer);
  set(DLQ_HEADERS.attempts, String(input.attempts));
  set(DLQ_HEADERS.reason, input.reason);
  set(DLQ_HEADERS.error, errorText(input.error));
  set(DLQ_HEADERS.failedAt, input.failedAt.toISOString());
  return { subject: dlqSubject(input.consumer), headers, payload: original.payload, messageId: input.messageId };
}

export async function publishDeadLetter(js: JetStreamClient, letter: DeadLetterMessage): Promise<void> {
  const hdrs = natsHeaders();
  for (const [key, value] of Object.entries(letter.headers)) hdrs.set(key, value);
  await js.publish(letter.subject, letter.payload, { headers: hdrs, msgID: letter.messageId });
}

/** What a dead letter says about the message it holds, read from the headers `buildDeadLetter` wrote. */
export type DeadLetterFields = {
  consumer: string | null;
  subject: string;
  stream: string | null;
  sequence: number | null;
  attempts: number | null;
  reason: string | null;
  error: string | null;
  failedAt: string | null;
  /** The original's own headers: everything but the dead letter's and JetStream's. */
  originalHeaders: Record<string, string>;
};

function integer(value: string | undefined): number | null {
  const parsed = Number.parseInt(value ?? '', 10);
  return Number.isNaN(parsed) ? null : parsed;
}

export function readDeadLetter(headers: Readonly<Record<string, string>>): DeadLetterFields {
  return {
    consumer: headers[DLQ_HEADERS.consumer] ?? null,
    subject: headers[DLQ_HEADERS.subject] ?? '',
    stream: headers[DLQ_HEADERS.stream] ?? null,
    sequence: integer(headers[DLQ_HEADERS.sequence]),
    attempts: integer(headers[DLQ_HEADERS.attempts]),
    reason: headers[DLQ_HEADERS.reason] ?? null,
    error: headers[DLQ_HEADERS.error] ?? null,
    failedAt: headers[DLQ_HEADERS.failedAt] ?? null,
    originalHeaders: Object.fromEntries(
      Object.entries(headers).filter(([key]) => !key.startsWith('Jetsaga-Dlq-') && !key.startsWith('Nats-')),
    ),
  };
}
