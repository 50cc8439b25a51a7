import { ERASED } from '@jetsaga/events';
import { given, NotFoundError } from '@jetsaga/platform';
import { describe, expect, it } from 'vitest';
import { type CustomerCommand, type CustomerEvent, decideCustomer, evolveCustomer, initialCustomer } from './customer.js';

const customerId = '0190a000-0000-7000-8000-000000000301';
const decider = { initialState: initialCustomer, decide: decideCustomer, evolve: evolveCustomer };
const home = { line1: '1 rue de la Paix', city: 'Paris', postalCode: '75002', country: 'FR' };
const registered: CustomerEvent = {
  type: 'CustomerRegistered',
  data: { customerId, name: 'Ada Lovelace', email: 'ada@example.org', balanceCents: 5_000, address: home, locale: 'en' },
};
const erase: CustomerCommand = { type: 'EraseCustomer', customerId, erasedAt: '2026-12-03T15:00:00.000Z' };
const erased: CustomerEvent = { type: 'CustomerErased', data: { customerId, erasedAt: erase.erasedAt } };

describe('customer erasure', () => {
  it('erases a registered customer: CustomerErased, and their name, email and address are gone from the state', () => {
    expect(given(decider, [registered]).when(erase)).toEqual({ events: [erased] });
    expect(given(decider, [registered, erased]).state).toEqual({
      status: 'REGISTERED',
      id: customerId,
      name: ERASED,
      email: ERASED,
      balanceCents: 5_000,
      erasedAt: erase.erasedAt,
    });
  });

  it('changes nothing when asked again: the first erasure stands', () => {
    expect(given(decider, [registered, erased]).when({ ...erase, erasedAt: '2026-12-04T00:00:00.000Z' })).toEqual({ events: [] });
  });

  it('refuses a customer who does not exist', () => {
    expect(given(decider, []).when(erase).error).toBeInstanceOf(NotFoundError);
  });
});
