import { describe, expect, it } from 'vitest';
import { compare, digest } from './verify.js';

const entry = (position: number, payload = `{"n":${position}}`) => ({ position, payload });

describe('mirror verification', () => {
  it('gives equal digests for equal ranges and different ones otherwise', () => {
    expect(digest([entry(1), entry(2)])).toEqual(digest([entry(1), entry(2)]));
    expect(digest([entry(1), entry(2)]).hash).not.toBe(digest([entry(1), entry(2, '{"n":3}')]).hash);
    expect(digest([entry(1), entry(2)]).hash).not.toBe(digest([entry(2), entry(1)]).hash);
    expect(digest([]).count).toBe(0);
  });

  it('names missing, extra and altered positions', () => {
    const stream = [entry(1), entry(2), entry(3), entry(4)];
    const mirror = [entry(1), entry(3, 'tampered'), entry(4), entry(9)];
    expect(compare(stream, mirror)).toEqual({ missing: [2, 3], extra: [3, 9] });
  });
});
