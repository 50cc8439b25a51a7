import { describe, expect, it } from 'vitest';
import { databaseUnavailable } from './db.js';

describe('databaseUnavailable', () => {
  const coded = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

  it.each([
    ['shutting down (57P01)', coded('57P01', 'terminating connection due to administrator command')],
    ['starting up (57P03)', coded('57P03', 'the database system is starting up')],
    ['too many connections (53300)', coded('53300')],
    ['a connection exception (08006)', coded('08006')],
    ['refused', coded('ECONNREFUSED')],
    ['a lost connection, in node-postgres words', new Error('Connection terminated unexpectedly')],
    ['a pool that could not connect in time', new Error('timeout exceeded when trying to connect')],
    ['a refusal behind a cause', new Error('the cart could not be saved', { cause: coded('ECONNRESET') })],
  ])('is true for %s', (_name, error) => {
    expect(databaseUnavailable(error)).toBe(true);
  });

  it.each([
    ['a unique violation', coded('23505')],
    ['a serialization failure (retried by withTransaction, not by the client)', coded('40001')],
    ['an undefined table', coded('42P01')],
    ['a plain error', new Error('boom')],
    ['something that is not an error', { code: 'ECONNREFUSED' }],
  ])('is false for %s', (_name, error) => {
    expect(databaseUnavailable(error)).toBe(false);
  });
});
