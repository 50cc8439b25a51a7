import { describe, expect, it } from 'vitest';
import { THROTTLE_POLICY, throttleDelayMs } from './kube.js';

describe('throttleDelayMs: how long to wait after a 429', () => {
  it('waits what Retry-After says, in seconds or as an HTTP date, capped', () => {
    expect(throttleDelayMs('1', 1, THROTTLE_POLICY)).toBe(1000);
    expect(throttleDelayMs('0', 3, THROTTLE_POLICY)).toBe(0);
    expect(throttleDelayMs('120', 1, THROTTLE_POLICY)).toBe(THROTTLE_POLICY.maxWaitMs);
    const now = Date.parse('2026-12-01T12:00:00Z');
    expect(throttleDelayMs('Tue, 01 Dec 2026 12:00:03 GMT', 1, THROTTLE_POLICY, now)).toBe(3000);
    expect(throttleDelayMs('Tue, 01 Dec 2026 11:59:00 GMT', 1, THROTTLE_POLICY, now)).toBe(0);
  });

  it('backs off briefly, doubling, when the answer has no usable Retry-After', () => {
    expect([1, 2, 3].map((attempt) => throttleDelayMs(undefined, attempt, THROTTLE_POLICY))).toEqual([200, 400, 800]);
    expect(throttleDelayMs('soon', 2, THROTTLE_POLICY)).toBe(400);
    expect(throttleDelayMs(undefined, 20, THROTTLE_POLICY)).toBe(THROTTLE_POLICY.maxWaitMs);
  });
});
