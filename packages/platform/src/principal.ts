import type { Context } from 'hono';
import { UnauthorizedError } from './errors.js';

/** The roles of docs/adr (security): a customer sees only their own data, an agent runs operations, an admin all. */
export const ROLES = ['customer', 'agent', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who made a request, as the verified bearer token says. */
export type Principal = {
  /** The token's `sub`: for a customer, their customer id. */
  subject: string;
  role: Role;
  /** The bearer token itself, forwarded unchanged on calls this request makes to other services. */
  token: string;
};

declare module 'hono' {
  interface ContextVariableMap {
    principal: Principal;
  }
}

/** The request's verified principal; a route reached without one is refused, never served anonymously. */
export function principalOf(c: Context): Principal {
  const principal = c.get('principal') as Principal | undefined;
  if (!principal) throw new UnauthorizedError('this route needs a bearer token');
  return principal;
}

/** The `actor` of the events a principal's request causes: role and subject, never a client-supplied header. */
export function actorOf(principal: Pick<Principal, 'role' | 'subject'>): string {
  return `${principal.role}:${principal.subject}`;
}
