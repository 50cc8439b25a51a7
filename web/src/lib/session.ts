import { useSyncExternalStore } from 'react';

export type Role = 'customer' | 'agent' | 'admin';
export type Session = { token: string; role: Role; subject: string; expiresAt: number };

const KEY = 'jetsaga.session';
const listeners = new Set<() => void>();

/** The claims the console reads from a token (it verifies nothing: the API does, on every request). */
export function readToken(token: string): Session {
  const part = token.trim().split('.')[1];
  if (!part) throw new Error('this is not a JWT (three parts separated by dots)');
  const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
  const claims = JSON.parse(json) as { sub?: string; exp?: number; roles?: unknown; scope?: unknown; scp?: unknown };
  const granted = [
    ...(Array.isArray(claims.roles) ? claims.roles : []),
    ...(typeof claims.scope === 'string' ? claims.scope.split(' ') : []),
    ...(Array.isArray(claims.scp) ? claims.scp : []),
  ].map((value) => String(value).replace(/^jetsaga:/, ''));
  const role = (['admin', 'agent', 'customer'] as const).find((candidate) => granted.includes(candidate));
  if (!role) throw new Error('the token grants none of the roles customer, agent or admin');
  if (!claims.sub) throw new Error('the token has no subject');
  return { token: token.trim(), role, subject: claims.sub, expiresAt: (claims.exp ?? 0) * 1000 };
}

let current: Session | null = load();

function load(): Session | null {
  try {
    const token = sessionStorage.getItem(KEY);
    if (!token) return null;
    const session = readToken(token);
    return session.expiresAt > Date.now() ? session : null;
  } catch {
    return null;
  }
}

export function signIn(token: string): Session {
  const session = readToken(token);
  sessionStorage.setItem(KEY, session.token);
  current = session;
  for (const listener of listeners) listener();
  return session;
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
  current = null;
  for (const listener of listeners) listener();
}

export const getSession = () => current;

export function useSession(): Session | null {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => current,
  );
}

export const isOperator = (session: Session | null) => session?.role === 'agent' || session?.role === 'admin';
