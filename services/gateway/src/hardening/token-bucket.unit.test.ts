import { describe, expect, it } from 'vitest';
import { TokenBuckets } from './token-bucket.js';

describe('token buckets', () => {
  it('allows a burst of the capacity, then refuses with the time until one token is back', () => {
    const buckets = new TokenBuckets({ capacity: 3, windowSeconds: 6 }); // one token every 2 s
    expect([0, 1, 2].map(() => buckets.take('a', 1000).allowed)).toEqual([true, true, true]);
    const refused = buckets.take('a', 1000);
    expect(refused).toEqual({ allowed: false, remaining: 0, resetSeconds: 6, retryAfterSeconds: 2 });
    // Half a token later, the wait is shorter; the refused request took nothing.
    expect(buckets.take('a', 2000)).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
    expect(buckets.take('a', 3000)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('refills at capacity per window and never above the capacity', () => {
    const buckets = new TokenBuckets({ capacity: 10, windowSeconds: 10 });
    for (let i = 0; i < 10; i++) buckets.take('a', 0);
    expect(buckets.take('a', 5000)).toEqual({ allowed: true, remaining: 4, resetSeconds: 6, retryAfterSeconds: 0 });
    expect(buckets.take('a', 3_600_000)).toEqual({ allowed: true, remaining: 9, resetSeconds: 1, retryAfterSeconds: 0 });
  });

  it('keeps one bucket per key', () => {
    const buckets = new TokenBuckets({ capacity: 1, windowSeconds: 60 });
    expect(buckets.take('a', 0).allowed).toBe(true);
    expect(buckets.take('a', 0).allowed).toBe(false);
    expect(buckets.take('b', 0).allowed).toBe(true);
  });

  it('a clock that goes back gives no tokens', () => {
    const buckets = new TokenBuckets({ capacity: 1, windowSeconds: 1 });
    buckets.take('a', 10_000);
    expect(buckets.take('a', 0).allowed).toBe(false);
  });

  it('bounds its memory by forgetting the least recently used keys', () => {
    const buckets = new TokenBuckets({ capacity: 1, windowSeconds: 60 }, 100);
    buckets.take('kept', 0);
    for (let i = 0; i < 99; i++) buckets.take(`k${i}`, 1);
    buckets.take('kept', 2); // used again: now the most recent
    for (let i = 99; i < 150; i++) buckets.take(`k${i}`, 3);
    expect(buckets.size).toBeLessThanOrEqual(100);
    // Still remembered as empty: not reset to a full bucket by the eviction.
    expect(buckets.take('kept', 4).allowed).toBe(false);
  });

  it('rejects a policy that could never allow a request', () => {
    expect(() => new TokenBuckets({ capacity: 0, windowSeconds: 1 })).toThrow(RangeError);
    expect(() => new TokenBuckets({ capacity: 1, windowSeconds: 0 })).toThrow(RangeError);
  });
});
