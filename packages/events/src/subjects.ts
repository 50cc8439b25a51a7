/**
 * Subject grammar of the EVENTS stream:
 *
 *   events.<aggregateType>.<aggregateId>.<eventType>
 *
 * - consumers filter by event type with `events.*.*.<eventType>`;
 * - an append checks concurrency per aggregate with `events.<aggregateType>.<aggregateId>.*`
 *   as `Nats-Expected-Last-Subject-Sequence-Subject`.
 *
 * Tokens may not contain `.`, `*`, `>` or whitespace; aggregate ids are UUIDs.
 */
export const EVENTS_STREAM = 'EVENTS';
export const EVENTS_SUBJECTS = 'events.>';

/** Saga deadlines: a schedule message per order, fired by JetStream onto `deadlines.<type>.<id>.fired`. */
export const DEADLINES_STREAM = 'DEADLINES';
export const DEADLINES_SUBJECTS = 'deadlines.>';

/** Dead letters: `dlq.<consumer>`, original subject and error in headers. */
export const DLQ_STREAM = 'DLQ';
export const DLQ_SUBJECTS = 'dlq.>';

const TOKEN = /^[A-Za-z0-9_-]+$/;

function token(name: string, value: string): string {
  if (!TOKEN.test(value)) throw new Error(`${name} "${value}" is not a valid subject token`);
  return value;
}

export function eventSubject(aggregateType: string, aggregateId: string, eventType: string): string {
  return `events.${token('aggregateType', aggregateType)}.${token('aggregateId', aggregateId)}.${token('eventType', eventType)}`;
}

export function eventTypeFilter(eventType: string): string {
  return `events.*.*.${token('eventType', eventType)}`;
}

export function aggregateFilter(aggregateType: string, aggregateId: string): string {
  return `events.${token('aggregateType', aggregateType)}.${token('aggregateId', aggregateId)}.*`;
}

export type ParsedEventSubject = { aggregateType: string; aggregateId: string; eventType: string };

export function parseEventSubject(subject: string): ParsedEventSubject | undefined {
  const parts = subject.split('.');
  if (parts.length !== 4 || parts[0] !== 'events') return undefined;
  const [, aggregateType, aggregateId, eventType] = parts as [string, string, string, string];
  return { aggregateType, aggregateId, eventType };
}

export function deadlineScheduleSubject(aggregateType: string, aggregateId: string): string {
  return `deadlines.${token('aggregateType', aggregateType)}.${token('aggregateId', aggregateId)}.schedule`;
}

export function deadlineFiredSubject(aggregateType: string, aggregateId: string): string {
  return `deadlines.${token('aggregateType', aggregateType)}.${token('aggregateId', aggregateId)}.fired`;
}

export function dlqSubject(consumer: string): string {
  return `dlq.${token('consumer', consumer)}`;
}

/** A dead letter put back for one consumer only (its `<durable>-redrive` consumer reads this subject of DLQ). */
export function dlqRedriveSubject(consumer: string): string {
  return `dlq.redrive.${token('consumer', consumer)}`;
}

/**
 * JetStream's advisory when a consumer gave up on a message (max deliveries reached without an ack or term). The
 * ADVISORIES stream keeps them, so a message that escaped its consumer (a crash on the last attempt) still reaches
 * the DLQ.
 */
export const ADVISORIES_STREAM = 'ADVISORIES';
export const MAX_DELIVERIES_ADVISORIES = '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>';
