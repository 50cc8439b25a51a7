import { useState, type ReactNode } from 'react';
import { ApiError } from '../lib/api.js';

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const text =
    error instanceof ApiError
      ? `${error.status} ${error.problem.title ?? ''}: ${error.message}${error.problem.errors?.length ? ` (${error.problem.errors.map((e) => `${e.field}: ${e.reason}`).join(', ')})` : ''}`
      : error instanceof Error
        ? error.message
        : String(error);
  return (
    <p role="alert" className="error">
      {text}
    </p>
  );
}

const TONES: Record<string, string> = {
  COMPLETED: 'ok',
  DELIVERED: 'ok',
  LIVE: 'ok',
  RESOLVED: 'ok',
  INTACT: 'ok',
  SENT: 'ok',
  BROKEN: 'bad',
  FAILED: 'bad',
  SUPPRESSED: 'muted',
  CLOSED: 'muted',
  REFUNDED: 'warn',
  CANCELLED: 'bad',
  ERROR: 'bad',
  INCIDENT: 'bad',
  PENDING: 'info',
  BUILDING: 'info',
  OPEN: 'info',
};

export function Badge({ value }: { value: string }) {
  return <span className={`badge ${TONES[value] ?? 'muted'}`}>{value}</span>;
}

export function Json({ value }: { value: unknown }) {
  // Focusable: a scrolled block must be reachable from the keyboard.
  return (
    <pre className="json" tabIndex={0}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

/**
 * Pages through a server cursor (`after=<next>`): the cursors already seen are kept, so Previous goes back without
 * the server having to page backwards. Only one page is ever loaded.
 */
export function useCursor() {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const after = cursors[cursors.length - 1];
  return {
    after,
    page: cursors.length,
    reset: () => setCursors([undefined]),
    pager: (next: string | null | undefined) => (
      <nav className="pager" aria-label="pages">
        <button type="button" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous
        </button>
        <span>page {cursors.length}</span>
        <button type="button" disabled={!next} onClick={() => next && setCursors([...cursors, next])}>
          Next
        </button>
      </nav>
    ),
  };
}

export function Section({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  return (
    <section className="panel">
      <header className="panel-head">
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

export function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <label className="field">
      <span>{label}</span>
      {children}
    </label>
  );
}
