import { useState, type ReactNode } from 'react';
import { ApiError } from '../lib/api.js';
import { setSearch } from '../lib/router.js';

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

type Cursor = ReturnType<typeof useCursor>;

/** A select bound to the search parameter `name`: a new choice goes back to the first page. */
export function SearchSelect(props: { label: string; name: string; value: string; options: readonly string[]; cursor: Cursor }) {
  return (
    <Field label={props.label}>
      <select
        value={props.value}
        onChange={(event) => {
          props.cursor.reset();
          setSearch({ [props.name]: event.target.value });
        }}
      >
        <option value="">any</option>
        {props.options.map((option) => (
          <option key={option}>{option}</option>
        ))}
      </select>
    </Field>
  );
}

/** A text input bound to the search parameter `name`, applied when it loses focus, from the first page. */
export function SearchInput(props: { label: string; name: string; value: string; cursor: Cursor }) {
  return (
    <Field label={props.label}>
      <input
        defaultValue={props.value}
        onBlur={(event) => {
          props.cursor.reset();
          setSearch({ [props.name]: event.target.value.trim() });
        }}
      />
    </Field>
  );
}
