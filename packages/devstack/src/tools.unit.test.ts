import { describe, expect, it } from 'vitest';
import { checkNatsServerVersion, NATS_SERVER_MINIMUM, parseNatsServerVersion } from './tools.js';

describe('the nats-server the code needs', () => {
  it('is 2.14 or newer: purging a deadline schedule needs it', () => {
    expect(NATS_SERVER_MINIMUM).toBe('2.14.0');
    expect(() => checkNatsServerVersion('2.14.0', 'test')).not.toThrow();
    expect(() => checkNatsServerVersion('2.15.2', 'test')).not.toThrow();
    expect(() => checkNatsServerVersion('2.13.9', 'NATS_SERVER_BIN (/opt/nats-server)')).toThrow(
      /NATS_SERVER_BIN \(\/opt\/nats-server\) is nats-server 2\.13\.9; jetsaga needs 2\.14\.0 or newer/,
    );
    expect(() => checkNatsServerVersion('2.12.1', 'test')).toThrow(/needs 2\.14\.0/);
  });

  it('reads the version nats-server --version prints', () => {
    expect(parseNatsServerVersion('nats-server: v2.15.2')).toBe('2.15.2');
  });
});
