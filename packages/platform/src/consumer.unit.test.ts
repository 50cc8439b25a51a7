import { describe, expect, it } from 'vitest';
import { consumerConfig, DEFAULT_BACKOFF_MS, retryDelayMs } from './consumer.js';

describe('retry schedule', () => {
  it('waits 1 s, 5 s, 30 s, then 60 s after the first four failed attempts by default', () => {
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(DEFAULT_BACKOFF_MS, attempt))).toEqual([1000, 5000, 30_000, 60_000]);
  });

  it('repeats its last step for a consumer allowed more attempts than steps', () => {
    expect(retryDelayMs([50, 100], 7)).toBe(100);
  });

  it('gives a consumer without a schedule of its own five attempts, and the server one delivery more', () => {
    const config = consumerConfig({ stream: 'EVENTS', durable: 'x', filterSubjects: ['events.>'] });
    expect(config.max_deliver).toBe(6);
  });
});
