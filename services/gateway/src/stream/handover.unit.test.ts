import { describe, expect, it } from 'vitest';
import { Backlog, Cursor } from './handover.js';
import { joinFrames, tailBatch, tailEvent } from './tail.js';

const held = (seq: number, bytes = 10) => ({ seq, frame: new Uint8Array(bytes) });

describe('the hand-over from catch-up to the live tail', () => {
  it('lets each sequence through once, in order, whatever the overlap of the catch-up and the held live events', () => {
    // Stream 1..60; the client resumes after `after`; it joined the tail when the tail had read up to `joinedAt`
    // (everything after reaches its backlog), and its catch-up read on to `caughtUpAt` before nothing was pending.
    for (const after of [0, 5, 30])
      for (const joinedAt of [after, after + 3, 40])
        for (const caughtUpAt of [Math.max(after, joinedAt), joinedAt + 7, 55]) {
          const wanted = (seq: number) => seq % 3 !== 0; // the client's filter
          const cursor = new Cursor(after);
          const backlog = new Backlog<ReturnType<typeof held>>(1_000);
          const out: number[] = [];
          for (let seq = joinedAt + 1; seq <= 60; seq++) if (wanted(seq)) backlog.push(held(seq));
          for (let seq = after + 1; seq <= caughtUpAt; seq++) if (wanted(seq) && cursor.take(seq)) out.push(seq);
          for (const event of backlog.drain()) if (cursor.take(event.seq)) out.push(event.seq);
          const expected = Array.from({ length: 60 - after }, (_, i) => after + 1 + i).filter(wanted);
          expect(out, JSON.stringify({ after, joinedAt, caughtUpAt })).toEqual(expected);
        }
  });

  it('starts with no position for a client of new events only, and never goes back', () => {
    const cursor = new Cursor(undefined);
    expect(cursor.last).toBeUndefined();
    expect(cursor.take(7)).toBe(true);
    expect(cursor.take(7)).toBe(false);
    expect(cursor.take(3)).toBe(false);
    expect(cursor.take(8)).toBe(true);
    expect(cursor.last).toBe(8);
  });

  it('lets go of everything it held past its byte bound, and holds again after a reset', () => {
    const backlog = new Backlog<ReturnType<typeof held>>(25);
    backlog.push(held(1));
    backlog.push(held(2));
    expect(backlog.complete).toBe(true);
    backlog.push(held(3));
    expect(backlog.complete).toBe(false);
    backlog.push(held(4, 1));
    expect(backlog.drain()).toEqual([]);
    expect(backlog.complete).toBe(true);
    backlog.push(held(5));
    expect(backlog.drain().map((event) => event.seq)).toEqual([5]);
  });
});

describe('a live tail event', () => {
  const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

  it('is framed once from the payload as published, with its subject tokens', () => {
    const data = encode({ type: 'OrderPlaced', correlationId: 'ABC' });
    const event = tailEvent(42, 'events.order.o-1.OrderPlaced', data)!;
    expect(event).toMatchObject({ seq: 42, aggregateType: 'order', aggregateId: 'o-1', eventType: 'OrderPlaced' });
    expect(new TextDecoder().decode(event.frame)).toBe(`id: 42\nevent: OrderPlaced\ndata: ${new TextDecoder().decode(data)}\n\n`);
    expect(event.correlationId()).toBe('abc');
    expect(tailEvent(1, 'deadlines.order.o-1.fired', data)).toBeUndefined();
  });

  it('has no correlation id when the payload names none or is no JSON', () => {
    expect(tailEvent(1, 'events.order.o-1.OrderPlaced', encode({ type: 'x' }))!.correlationId()).toBeUndefined();
    expect(tailEvent(1, 'events.order.o-1.OrderPlaced', new TextEncoder().encode('not json'))!.correlationId()).toBeUndefined();
  });
});

describe('a flush of the live tail', () => {
  it('joins its frames once, in order, and hands the same bytes to every ask', () => {
    const events = [1, 2, 3].map((seq) => tailEvent(seq, `events.order.o-${seq}.OrderPlaced`, new TextEncoder().encode(`{"n":${seq}}`))!);
    const batch = tailBatch(events);
    const text = new TextDecoder().decode(batch.bytes());
    expect(text).toBe(events.map((event) => new TextDecoder().decode(event.frame)).join(''));
    expect(batch.bytes()).toBe(batch.bytes());
    expect(joinFrames(events.slice(1, 2))).toBe(events[1]!.frame);
  });
});
