import { JetStreamApiError } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { refusedForGood } from './outbox.js';

const apiError = (code: number, errCode: number, description: string) => new JetStreamApiError({ code, err_code: errCode, description });

describe('refusedForGood: which publish failures the relay dead-letters', () => {
  it('dead-letters what JetStream refuses outright', () => {
    expect(refusedForGood(apiError(400, 10060, 'expected stream does not match'))).toBe(true);
    expect(refusedForGood(apiError(400, 10054, 'maximum message size exceeded'))).toBe(true);
  });

  it('retries the same id still in process: an earlier publish of the row is being stored', () => {
    expect(refusedForGood(apiError(409, 10158, 'duplicate message id is in process'))).toBe(false);
  });

  it('retries server-side trouble and anything that is not an API answer (timeouts, connection loss)', () => {
    expect(refusedForGood(apiError(503, 10008, 'JetStream system temporarily unavailable'))).toBe(false);
    expect(refusedForGood(new Error('TIMEOUT'))).toBe(false);
    expect(refusedForGood(undefined)).toBe(false);
  });
});
