import { describe, expect, it } from 'vitest';
import { buildDeadLetter, type DeadLetterInput, DLQ_HEADERS, readDeadLetter } from './dead-letter.js';

const failedAt = new Date('2026-01-02T03:04:05.678Z');
const payload = new TextEncoder().encode('{"id":"e1"}');
const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

function consumerFailure(overrides: Partial<DeadLetterInput> = {}): DeadLetterInput {
  return {
    consumer: 'payment',
    reason: 'exhausted',
    error: new Error('database down\nat line 2'),
    attempts: 5,
    failedAt,
    messageId: 'payment:EVENTS:42:5',
    original: {
      subject: 'events.reservation.o1.StockReserved',
      stream: 'EVENTS',
      sequence: 42,
      headers: { traceparent, tracestate: 'k=v', 'Nats-Msg-Id': 'e1', 'Nats-Expected-Last-Subject-Sequence': '3' },
      payload,
    },
    ...overrides,
  };
}

describe('dead-letter builder', () => {
  it('goes to dlq.<consumer> with the original payload, subject, stream, sequence, attempts, reason, error and time', () => {
    const letter = buildDeadLetter(consumerFailure());
    expect(letter.subject).toBe('dlq.payment');
    expect(letter.payload).toBe(payload);
    expect(letter.messageId).toBe('payment:EVENTS:42:5');
    expect(letter.headers).toEqual({
      traceparent,
      tracestate: 'k=v',
      'Jetsaga-Original-Nats-Msg-Id': 'e1',
      'Jetsaga-Original-Nats-Expected-Last-Subject-Sequence': '3',
      [DLQ_HEADERS.subject]: 'events.reservation.o1.StockReserved',
      [DLQ_HEADERS.stream]: 'EVENTS',
      [DLQ_HEADERS.sequence]: '42',
      [DLQ_HEADERS.consumer]: 'payment',
      [DLQ_HEADERS.attempts]: '5',
      [DLQ_HEADERS.reason]: 'exhausted',
      [DLQ_HEADERS.error]: 'database down at line 2',
      [DLQ_HEADERS.failedAt]: '2026-01-02T03:04:05.678Z',
    });
  });

  it('keeps no email address a mail server quoted in the error it records (ADR 0052)', () => {
    const error = new Error("Can't send mail - all recipients were rejected: 550 5.1.1 <ada@example.org>: unknown");
    const letter = buildDeadLetter(consumerFailure({ error }));
    expect(letter.headers[DLQ_HEADERS.error]).toBe("Can't send mail - all recipients were rejected: 550 5.1.1 <[email]>: unknown");
  });

  it("never publishes the original's JetStream headers as such, so the server cannot act on them for the dead letter", () => {
    const letter = buildDeadLetter(
      consumerFailure({
        consumer: 'outbox-order',
        reason: 'rejected',
        attempts: 1,
        original: { subject: 'deadlines.order.x.fired', headers: { 'Nats-Schedule-Next': 'never', traceparent }, payload },
      }),
    );
    expect(Object.keys(letter.headers).filter((key) => key.startsWith('Nats-'))).toEqual([]);
    expect(letter.headers['Jetsaga-Original-Nats-Schedule-Next']).toBe('never');
    // Nothing stored it, so there is no stream or sequence to name.
    expect(letter.headers[DLQ_HEADERS.stream]).toBeUndefined();
    expect(letter.headers[DLQ_HEADERS.sequence]).toBeUndefined();
    expect(letter.headers.traceparent).toBe(traceparent);
  });

  it('keeps naming where a redriven message first came from when it fails again', () => {
    const first = buildDeadLetter(consumerFailure({ reason: 'permanent', attempts: 1 }));
    // What the redrive API publishes: the dead letter's headers, with the redrive's own message id.
    const redriven = { ...first.headers, 'Nats-Msg-Id': 'redrive:7' };
    const again = buildDeadLetter(
      consumerFailure({
        reason: 'permanent',
        attempts: 1,
        error: 'still broken',
        original: { subject: 'dlq.redrive.payment', stream: 'EVENTS', sequence: 8, headers: redriven, payload },
      }),
    );
    expect(readDeadLetter(again.headers)).toMatchObject({
      subject: 'events.reservation.o1.StockReserved',
      stream: 'EVENTS',
      sequence: 42,
      error: 'still broken',
    });
    expect(again.headers['Jetsaga-Original-Nats-Msg-Id']).toBe('e1');
  });

  it('is read back by the DLQ routes as it was written', () => {
    const letter = buildDeadLetter(consumerFailure({ reason: 'max-deliveries', attempts: 6, error: 'no settlement' }));
    expect(readDeadLetter(letter.headers)).toEqual({
      consumer: 'payment',
      subject: 'events.reservation.o1.StockReserved',
      stream: 'EVENTS',
      sequence: 42,
      attempts: 6,
      reason: 'max-deliveries',
      error: 'no settlement',
      failedAt: '2026-01-02T03:04:05.678Z',
      originalHeaders: {
        traceparent,
        tracestate: 'k=v',
        'Jetsaga-Original-Nats-Msg-Id': 'e1',
        'Jetsaga-Original-Nats-Expected-Last-Subject-Sequence': '3',
      },
    });
  });

  it('cuts a long error to 1024 characters', () => {
    const letter = buildDeadLetter(consumerFailure({ error: 'x'.repeat(5000) }));
    expect(letter.headers[DLQ_HEADERS.error]).toHaveLength(1024);
  });
});
