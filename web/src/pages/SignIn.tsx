import { type FormEvent, useState } from 'react';
import { ErrorNote, Field } from '../components/ui.js';
import { useConsoleConfig } from '../lib/config.js';
import { navigate } from '../lib/router.js';
import { type Role, signIn } from '../lib/session.js';

async function devToken(role: Role, sub?: string): Promise<string> {
  const response = await fetch('/console/dev-token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(sub ? { role, sub } : { role }),
  });
  if (!response.ok) throw new Error(`the development issuer refused (${response.status})`);
  return ((await response.json()) as { access_token: string }).access_token;
}

/**
 * A new customer with a starting balance and a postal address (so their parcels can be dispatched), made with an admin
 * token of the development issuer, then signed in as them.
 */
async function newCustomer(name: string, email: string): Promise<string> {
  const admin = await devToken('admin');
  const response = await fetch('/api/customers', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
    body: JSON.stringify({
      name,
      email,
      balanceCents: 100_000,
      address: { line1: '12 Analytical Row', city: 'London', postalCode: 'N1 9GU', country: 'GB' },
    }),
  });
  if (!response.ok) throw new Error(`the customer could not be created (${response.status})`);
  const { id } = (await response.json()) as { id: string };
  return devToken('customer', id);
}

export function SignIn({ next }: { next?: string }) {
  const { data: config } = useConsoleConfig();
  const [role, setRole] = useState<Role>('admin');
  const [sub, setSub] = useState('');
  const [pasted, setPasted] = useState('');
  const [name, setName] = useState('Ada Lovelace');
  const [email, setEmail] = useState('ada@example.org');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const done = (token: string) => {
    const session = signIn(token);
    const target = next && next !== '/signin' ? next : session.role === 'customer' ? '/' : '/ops/orders';
    navigate(target, { replace: true });
  };
  const run = (work: () => Promise<string>) => async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      done(await work());
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="signin">
      <h1>Sign in</h1>
      {config?.devSignIn ? (
        <>
          <form className="panel" onSubmit={run(() => devToken(role, sub.trim() || undefined))} aria-labelledby="dev-title">
            <h2 id="dev-title">Development sign-in</h2>
            <p className="hint">A token from this system's development issuer (npm start): any role, any subject.</p>
            <Field label="Role">
              <select value={role} onChange={(event) => setRole(event.target.value as Role)}>
                <option value="admin">admin</option>
                <option value="agent">agent</option>
                <option value="customer">customer</option>
              </select>
            </Field>
            <Field label={role === 'customer' ? 'Customer id (subject)' : 'Subject (optional)'}>
              <input
                value={sub}
                onChange={(event) => setSub(event.target.value)}
                placeholder={role === 'customer' ? 'uuid of the customer' : `dev-${role}`}
              />
            </Field>
            <button type="submit" disabled={busy}>
              Sign in as {role}
            </button>
          </form>
          <form className="panel" onSubmit={run(() => newCustomer(name, email))} aria-labelledby="new-title">
            <h2 id="new-title">New customer</h2>
            <p className="hint">Registers a customer with 1,000.00 € to spend and signs in as them.</p>
            <Field label="Name">
              <input value={name} onChange={(event) => setName(event.target.value)} />
            </Field>
            <Field label="Email">
              <input type="email" value={email} onChange={(event) => setEmail(event.target.value)} />
            </Field>
            <button type="submit" disabled={busy}>
              Register and sign in
            </button>
          </form>
        </>
      ) : null}
      <form className="panel" onSubmit={run(async () => pasted)} aria-labelledby="paste-title">
        <h2 id="paste-title">Paste a token</h2>
        <p className="hint">A bearer token of your identity provider (or `npm run token -- --role agent`).</p>
        <Field label="Token">
          <textarea rows={4} value={pasted} onChange={(event) => setPasted(event.target.value)} />
        </Field>
        <button type="submit" disabled={busy || pasted.trim() === ''}>
          Use this token
        </button>
      </form>
      <ErrorNote error={error} />
    </div>
  );
}
