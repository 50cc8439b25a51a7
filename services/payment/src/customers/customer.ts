import type { Address, EventDraft, Locale } from '@jetsaga/events';
import { ConflictError } from '@jetsaga/platform';

export type Customer =
  { status: 'NONE' } | { status: 'REGISTERED'; id: string; name: string; email: string; balanceCents: number; address?: Address };

export type RegisterCustomer = {
  type: 'RegisterCustomer';
  customerId: string;
  name: string;
  email: string;
  balanceCents: number;
  address?: Address;
  /** The language of their emails (notification); en when not given. */
  locale?: Locale;
};

export type CustomerEvent = EventDraft<'CustomerRegistered'>;

export const initialCustomer: Customer = { status: 'NONE' };

export function decideCustomer(state: Customer, command: RegisterCustomer): CustomerEvent[] {
  if (state.status !== 'NONE') throw new ConflictError(`customer ${command.customerId} already exists`);
  const { customerId, name, email, balanceCents, address, locale } = command;
  return [
    {
      type: 'CustomerRegistered',
      data: { customerId, name, email, balanceCents, ...(address ? { address } : {}), locale: locale ?? 'en' },
    },
  ];
}

export function evolveCustomer(_state: Customer, event: CustomerEvent): Customer {
  const { customerId, name, email, balanceCents, address } = event.data;
  return { status: 'REGISTERED', id: customerId, name, email, balanceCents, ...(address ? { address } : {}) };
}
