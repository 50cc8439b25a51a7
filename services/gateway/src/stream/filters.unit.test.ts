import { describe, expect, it } from 'vitest';
import { payloadFilter, streamQuery, subjectsOf } from './filters.js';

const parse = (query: Record<string, string>) => streamQuery.parse(query);
const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe('stream filters', () => {
  it('maps no filter to every event and each part to its token of events.<aggregateType>.<aggregateId>.<type>', () => {
    expect(subjectsOf(parse({}))).toEqual(['events.>']);
    expect(subjectsOf(parse({ type: 'OrderPlaced' }))).toEqual(['events.*.*.OrderPlaced']);
    expect(subjectsOf(parse({ aggregateType: 'order' }))).toEqual(['events.order.*.*']);
    expect(subjectsOf(parse({ aggregateType: 'order', aggregateId: 'o-1' }))).toEqual(['events.order.o-1.*']);
    expect(subjectsOf(parse({ aggregateId: 'o-1' }))).toEqual(['events.*.o-1.*']);
  });

  it('gives one subject filter per type, each type once', () => {
    expect(subjectsOf(parse({ type: 'OrderPlaced, OrderCompleted,OrderPlaced', aggregateType: 'order' }))).toEqual([
      'events.order.*.OrderPlaced',
      'events.order.*.OrderCompleted',
    ]);
  });

  it('refuses a type outside the catalogue and tokens that would widen the subject', () => {
    for (const query of [{ type: 'NoSuchEvent' }, { aggregateType: 'order.*' }, { aggregateId: '>' }, { aggregateType: 'a b' }]) {
      expect(streamQuery.safeParse(query).success, JSON.stringify(query)).toBe(false);
    }
    expect(streamQuery.safeParse({ correlationId: 'not-a-uuid' }).success).toBe(false);
    expect(streamQuery.safeParse({ after: '-1' }).success).toBe(false);
    expect(streamQuery.safeParse({ from: 'yesterday' }).success).toBe(false);
    expect(streamQuery.safeParse({ unknown: '1' }).success).toBe(false);
  });

  it('matches the correlation id on the payload, not the subject, and no filter matches everything', () => {
    const id = '0191d3a8-6f1e-7c3a-9b2d-4e5f6a7b8c9d';
    const matches = payloadFilter(parse({ correlationId: id.toUpperCase() }))!;
    expect(matches(bytes({ correlationId: id }))).toBe(true);
    expect(matches(bytes({ correlationId: '0191d3a8-6f1e-7c3a-9b2d-000000000000' }))).toBe(false);
    expect(matches(new TextEncoder().encode('not json'))).toBe(false);
    expect(payloadFilter(parse({}))).toBeUndefined();
  });
});
