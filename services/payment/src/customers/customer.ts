import { type Address, ERASED, type EventDraft, type Locale } from '@jetsaga/events';
import { ConflictError, NotFoundError } from '@jetsaga/platform';

export type Customer =
  | { status: 'NONE' }
  | { status: 'REGISTERED'; id: string; name: string; email: string; balanceCents: number; address?: Address; erasedAt?: string };

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

/** The right to be forgotten (ADR 0052): their personal data goes, their id, balance and payments stay. */
export type EraseCustomer = { type: 'EraseCustomer'; customerId: string; erasedAt: string };

export type CustomerCommand = RegisterCustomer | EraseCustomer;

export type CustomerEvent = EventDraft<'CustomerRegistered' | 'CustomerErased'>;

export const initialCustomer: Customer = { status: 'NONE' };

export function decideCustomer(state: Customer, command: CustomerCommand): CustomerEvent[] {
  switch (command.type) {
    case 'RegisterCustomer': {
      if (state.status !== 'NONE') throw new ConflictError(`customer ${command.customerId} already exists`);
      const { customerId, name, email, balanceCents, address, locale } = command;
      return [
        {
          type: 'CustomerRegistered',
          data: { customerId, name, email, balanceCents, ...(address ? { address } : {}), locale: locale ?? 'en' },
        },
      ];
    }
    case 'EraseCustomer':
      if (state.status === 'NONE') throw new NotFoundError(`customer ${command.customerId} does not exist`);
      // Erasing twice is asking for what is already true: nothing more happens, and the first erasure stands.
      if (state.erasedAt) return [];
      return [{ type: 'CustomerErased', data: { customerId: command.customerId, erasedAt: command.erasedAt } }];
    default: {
      const unknown: never = command;
      throw new Error(`unknown command ${JSON.stringify(unknown)}`);
    }
  }
}

export function evolveCustomer(state: Customer, event: CustomerEvent): Customer {
  switch (event.type) {
    case 'CustomerRegistered': {
      const { customerId, name, email, balanceCents, address } = event.data;
      return { status: 'REGISTERED', id: customerId, name, email, balanceCents, ...(address ? { address } : {}) };
    }
    case 'CustomerErased': {
      if (state.status === 'NONE') return state;
      const { address: _address, ...kept } = state;
      return { ...kept, name: ERASED, email: ERASED, erasedAt: event.data.erasedAt };
    }
    default: {
      const unknown: never = event;
      throw new Error(`unknown event ${JSON.stringify(unknown)}`);
    }
  }
}
