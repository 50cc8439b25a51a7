import type { V1Lease } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  attemptBudgetMs,
  checkTiming,
  defaultRenewDeadlineMs,
  isExpired,
  type LeaseTiming,
  leadingUntil,
  type Observation,
  observe,
} from './leader.js';

const timing: LeaseTiming = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 200 };
const lease = (resourceVersion: string, holderIdentity: string, renewTime: string, leaseDurationSeconds = 3): V1Lease => ({
  metadata: { name: 'jetsaga-operator', resourceVersion },
  spec: { holderIdentity, leaseDurationSeconds, renewTime: new Date(renewTime) },
});

describe('leader election timing', () => {
  it('refuses timings where a follower could take over before the leader gives up', () => {
    expect(checkTiming(timing)).toEqual(timing);
    expect(() => checkTiming({ ...timing, renewDeadlineMs: 3000 })).toThrow(/lease duration > renew deadline/);
    expect(() => checkTiming({ ...timing, renewDeadlineMs: 5000 })).toThrow();
    expect(() => checkTiming({ ...timing, retryPeriodMs: 2000 })).toThrow();
    expect(() => checkTiming({ ...timing, retryPeriodMs: 0 })).toThrow();
    expect(defaultRenewDeadlineMs(15_000)).toBe(10_000);
    expect(() =>
      checkTiming({ leaseDurationMs: 15_000, renewDeadlineMs: defaultRenewDeadlineMs(15_000), retryPeriodMs: 2000 }),
    ).not.toThrow();
  });

  it("expiry is measured on the follower's own clock from when it first saw the record, never from renewTime", () => {
    // The holder's wall clock is an hour behind: its renewTime looks ancient, yet the Lease is fresh.
    const first = observe(undefined, lease('7', 'operator-a', '2026-12-01T11:00:00Z'), 10_000, 15_000);
    expect(first).toEqual({ record: '7', holder: 'operator-a', durationMs: 3000, observedAt: 10_000 });
    expect(isExpired(first, 10_001)).toBe(false);
    // The same record seen again keeps its first sighting; 3 s later it has expired.
    const again = observe(first, lease('7', 'operator-a', '2026-12-01T11:00:00Z'), 12_000, 15_000);
    expect(again.observedAt).toBe(10_000);
    expect(isExpired(again, 12_999)).toBe(false);
    expect(isExpired(again, 13_000)).toBe(true);
    // A renewal (new resourceVersion) restarts the count, even if its renewTime lies in the future.
    const renewed = observe(again, lease('8', 'operator-a', '2027-01-01T00:00:00Z'), 12_500, 15_000);
    expect(renewed.observedAt).toBe(12_500);
    expect(isExpired(renewed, 13_000)).toBe(false);
    expect(isExpired(renewed, 15_500)).toBe(true);
  });

  it("uses the record's own lease duration, and a released Lease is free at once", () => {
    const long = observe(undefined, lease('9', 'operator-a', '2026-12-01T12:00:00Z', 60), 0, 3000);
    expect(isExpired(long, 59_999)).toBe(false);
    const released = observe(long, lease('10', '', '2026-12-01T12:00:01Z', 1), 100, 3000);
    expect(isExpired(released, 100)).toBe(true);
    const noDuration = observe(undefined, { metadata: { resourceVersion: '11' }, spec: { holderIdentity: 'x' } }, 0, 3000);
    expect(noDuration.durationMs).toBe(3000);
  });

  it('a leader acts until its renew deadline counted from when the renewal was sent; attempts end there', () => {
    expect(leadingUntil(1000, timing)).toBe(3000);
    expect(attemptBudgetMs(3000, 2500, timing)).toBe(500);
    expect(attemptBudgetMs(3000, 3100, timing)).toBe(0);
    expect(attemptBudgetMs(undefined, 2500, timing)).toBe(2000);
  });

  it('cut off after its last renewal, the leader stops before any follower can take over (every phase, every latency)', () => {
    // The leader sends its last successful renewal at t = 1000; the API server writes it `latency` ms later; the
    // follower polls every retry period from `phase`. The follower takes over at its first poll after expiry.
    let smallestMargin = Infinity;
    for (let phase = 0; phase < timing.retryPeriodMs; phase += 7)
      for (const latency of [0, 1, 50, 400, 1999]) {
        const written = 1000 + latency;
        let observation: Observation | undefined;
        let takeover: number | undefined;
        for (let t = phase; takeover === undefined; t += timing.retryPeriodMs) {
          const current = t < written ? lease('6', 'operator-a', '2026-12-01T12:00:00Z') : lease('7', 'operator-a', '2026-12-01T12:00:01Z');
          observation = observe(observation, current, t, timing.leaseDurationMs);
          if (t >= written && isExpired(observation, t)) takeover = t;
        }
        const stepDown = leadingUntil(1000, timing);
        expect(stepDown).toBeLessThan(takeover);
        smallestMargin = Math.min(smallestMargin, takeover - stepDown);
      }
    // The margin is at least lease duration - renew deadline: the time the old leader has to stop its work.
    expect(smallestMargin).toBeGreaterThanOrEqual(timing.leaseDurationMs - timing.renewDeadlineMs);
  });
});
