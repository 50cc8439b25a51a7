import type { EventDraft } from '@jetsaga/events';
import { ConflictError } from '@jetsaga/platform';

export type Customer = { status: 'NONE' } | { status: 'REGISTERED'; id: string; name: string; email: string; balanceCents: number };

export type RegisterCustomer = { type: 'RegisterCustomer'; customerId: string; name: string; email: string; balanceCents: number };

export type CustomerEvent = EventDraft<'CustomerRegistered'>;

export const initialCustomer: Customer = { status: 'NONE' };

export function decideCustomer(state: Customer, command: RegisterCustomer): CustomerEvent[] {
  if (state.status !== 'NONE') throw new ConflictError(`customer ${command.customerId} already exists`);
  const { customerId, name, email, balanceCents } = command;
  return [{ type: 'CustomerRegistered', data: { customerId, name, email, balanceCents } }];
}

export function evolveCustomer(_state: Customer, event: CustomerEvent): Customer {
  const { customerId, name, email, balanceCents } = event.data;
  return { status: 'REGISTERED', id: customerId, name, email, balanceCents };
}
