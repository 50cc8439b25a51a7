import { describe, expect, it } from 'vitest';
import { eventMatcher, payloadFilter, streamQuery, subjectsOf } from './filters.js';

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

describe('the live match', () => {
  const event = (over: Partial<{ aggregateType: string; aggregateId: string; eventType: string; correlationId: string }> = {}) => {
    const { correlationId, ...rest } = over;
    return { aggregateType: 'order', aggregateId: 'o-1', eventType: 'OrderPlaced', ...rest, correlationId: () => correlationId };
  };
  const id = '0191d3a8-6f1e-7c3a-9b2d-4e5f6a7b8c9d';

  it('selects what the subject and payload filters of the same query select', () => {
    const cases: Array<[Record<string, string>, ReturnType<typeof event>, boolean]> = [
      [{}, event(), true],
      [{ type: 'OrderPlaced,OrderCompleted' }, event({ eventType: 'OrderCompleted' }), true],
      [{ type: 'OrderCompleted' }, event(), false],
      [{ aggregateType: 'order' }, event(), true],
      [{ aggregateType: 'shipment' }, event(), false],
      [{ aggregateId: 'o-1' }, event(), true],
      [{ aggregateType: 'order', aggregateId: 'o-2' }, event(), false],
      [{ correlationId: id.toUpperCase() }, event({ correlationId: id }), true],
      [{ correlationId: id }, event(), false],
      [{ correlationId: id, type: 'OrderPlaced' }, event({ correlationId: id, eventType: 'OrderCompleted' }), false],
    ];
    for (const [query, candidate, expected] of cases) {
      const parsed = parse(query);
      expect(eventMatcher(parsed)(candidate), JSON.stringify(query)).toBe(expected);
      // The same answer as the consumer's subject filters would give, with the payload filter for the correlation.
      const subject = `events.${candidate.aggregateType}.${candidate.aggregateId}.${candidate.eventType}`;
      const bySubject = subjectsOf(parsed).some((filter) => subjectMatches(filter, subject));
      const byPayload = payloadFilter(parsed)?.(bytes({ correlationId: candidate.correlationId() })) ?? true;
      expect(bySubject && byPayload, JSON.stringify(query)).toBe(expected);
    }
  });

  it('asks for the correlation id only when the query has one (the tail parses it on the first ask)', () => {
    let asked = 0;
    const candidate = { ...event(), correlationId: () => (asked++, id) };
    eventMatcher(parse({ type: 'OrderPlaced' }))(candidate);
    expect(asked).toBe(0);
    eventMatcher(parse({ correlationId: id }))(candidate);
    expect(asked).toBe(1);
  });
});

/** NATS subject matching, `*` one token, `>` the rest. */
function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (f[i] !== '*' && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}
