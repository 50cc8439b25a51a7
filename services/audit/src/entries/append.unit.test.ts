import { describe, expect, it } from 'vitest';
import { chainHash, GENESIS_HASH } from '../chain/chain.js';
import { type Arrival, chainArrivals, decodeArrived } from './append.js';

const envelope = (id: string, type = 'PaymentAccepted', data: unknown = { orderId: 'o', amountCents: 10 }) => ({
  id,
  type,
  schemaVersion: 1,
  aggregateType: 'payment',
  aggregateId: 'p-1',
  occurredAt: '2026-12-02T08:00:00.123+01:00',
  correlationId: '0190a000-0000-7000-8000-000000000001',
  causationId: 'c',
  actor: 'system',
  data,
  extra: 'kept as published',
});

const arrival = (id: string, sequence: number): Arrival => ({
  event: decodeArrived(new TextEncoder().encode(JSON.stringify(envelope(id)))),
  subject: `events.payment.p-1.PaymentAccepted`,
  streamSequence: sequence,
});

const ID = (n: number) => `0190a000-0000-7000-8000-${String(n).padStart(12, '0')}`;

describe('appending arrivals', () => {
  it('keeps the envelope exactly as published (unknown members too) and tags it', () => {
    const [entry] = chainArrivals({ position: 0, hash: GENESIS_HASH }, [arrival(ID(1), 5)], new Set(), '2026-12-02T08:00:01.000Z');
    expect(entry).toMatchObject({ position: 1, streamSequence: 5, tags: ['FINANCIAL', 'PCI'], occurredAt: '2026-12-02T07:00:00.123Z' });
    expect(entry!.envelope).toEqual(envelope(ID(1)));
    expect(entry!.hash).toEqual(chainHash(GENESIS_HASH, entry!));
  });

  it('numbers new events after the head, in arrival order, each event id once', () => {
    const head = { position: 41, hash: Buffer.alloc(32, 9) };
    const entries = chainArrivals(
      head,
      [arrival(ID(1), 1), arrival(ID(2), 2), arrival(ID(1), 1), arrival(ID(3), 3)],
      new Set([ID(2)]),
      't',
    );
    expect(entries.map((e) => [e.position, e.eventId])).toEqual([
      [42, ID(1)],
      [43, ID(3)],
    ]);
    expect(entries[0]!.hash).toEqual(chainHash(head.hash, entries[0]!));
    expect(entries[1]!.hash).toEqual(chainHash(entries[0]!.hash, entries[1]!));
  });

  it('refuses what is not JSON or not an envelope (poison: dead-lettered at once)', () => {
    expect(() => decodeArrived(new TextEncoder().encode('{'))).toThrow(/not JSON/);
    expect(() => decodeArrived(new TextEncoder().encode('{"id":"x"}'))).toThrow(/envelope/);
  });
});
