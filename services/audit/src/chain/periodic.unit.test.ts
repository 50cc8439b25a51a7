import { metricsRegistry } from '@jetsaga/platform';
import { describe, expect, it, vi } from 'vitest';
import { periodicVerify } from './periodic.js';
import type { VerifyResult } from './store.js';

const verdict = (ok: boolean, checked: number): VerifyResult => ({
  ok,
  from: 1,
  to: checked,
  checked,
  checkpoints: 0,
  firstBroken: ok ? null : { position: checked + 1, id: null, reason: 'missing-position', detail: 'gone' },
});

async function chainOk(): Promise<number | undefined> {
  const metric = await metricsRegistry().getSingleMetric('jetsaga_audit_chain_ok')?.get();
  return metric?.values[0]?.value;
}

const quiet = { info: () => undefined, error: () => undefined };

describe('the periodic verification of the audit chain', () => {
  it('verifies at start, then again each interval after the last one ended, and publishes each verdict as the metric', async () => {
    const verdicts = [verdict(true, 10), verdict(false, 4), verdict(true, 12)];
    let active = 0;
    let overlapped = false;
    const verify = vi.fn(async () => {
      active += 1;
      overlapped ||= active > 1;
      await Promise.resolve();
      active -= 1;
      return verdicts.shift() ?? verdict(true, 12);
    });
    const worker = periodicVerify({ db: { query: vi.fn() }, log: quiet, publicKeys: new Map(), intervalMs: 5, verify });
    worker.start();
    await vi.waitFor(() => expect(worker.runs()).toBeGreaterThanOrEqual(1), { timeout: 5000, interval: 1 });
    await vi.waitFor(async () => expect(await chainOk()).toBe(0), { timeout: 5000, interval: 1 });
    await vi.waitFor(async () => expect(await chainOk()).toBe(1), { timeout: 5000, interval: 1 });
    await worker.stop();
    const calls = verify.mock.calls.length;
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(overlapped).toBe(false);
    // Stopped: no verification starts any more.
    await new Promise((resolve) => setImmediate(resolve));
    expect(verify.mock.calls.length).toBe(calls);
  });

  it('keeps the last verdict and tries again when a verification cannot run (the database away)', async () => {
    const errors: unknown[] = [];
    let attempts = 0;
    const verify = vi.fn(async () => {
      attempts += 1;
      if (attempts === 2) throw new Error('connection refused');
      return attempts === 1 ? verdict(false, 3) : verdict(true, 3);
    });
    const worker = periodicVerify({
      db: { query: vi.fn() },
      log: { info: () => undefined, error: (entry: unknown) => void errors.push(entry) },
      publicKeys: new Map(),
      intervalMs: 5,
      verify,
    });
    worker.start();
    await vi.waitFor(() => expect(attempts).toBeGreaterThanOrEqual(3), { timeout: 5000, interval: 1 });
    await worker.stop();
    expect(errors.some((entry) => String((entry as { err?: Error }).err?.message).includes('connection refused'))).toBe(true);
    expect(await chainOk()).toBe(1);
  });
});
