import { type DevTokenOptions, type DevTokenSigner, devTokenSigner } from '@jetsaga/devstack';
import type { Role } from '@jetsaga/platform';
import { inject } from 'vitest';

let signer: Promise<DevTokenSigner> | undefined;

/** The suite's development issuer (tests/src/global-setup.ts starts it): every test system trusts what it signs. */
export function testIssuer(): Promise<DevTokenSigner> {
  return (signer ??= devTokenSigner(inject('authIssuerDir')));
}

/** The AUTH_* variables that make a service trust the suite's issuer. */
export function testAuthEnv(): Record<string, string> {
  return { ...inject('authEnv') };
}

/**
 * A token of the suite's issuer for a principal: `tokenFor('customer', customerId)`, `tokenFor('admin')`. `options`
 * make bad ones: `{ ttl: -120 }` expired, `{ audience: 'elsewhere' }`, `{ issuer: 'http://127.0.0.1:1' }`.
 */
export async function tokenFor(role: Role, subject?: string, options: DevTokenOptions = {}): Promise<string> {
  return (await testIssuer()).sign({ role, ...(subject ? { sub: subject } : {}), ...options });
}

let admin: Promise<string> | undefined;

/** The admin token the default test client sends: long enough for the longest suite (the fault runs). */
export function adminToken(): Promise<string> {
  return (admin ??= tokenFor('admin', 'test-admin', { ttl: '12h' }));
}
