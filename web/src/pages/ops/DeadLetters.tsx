import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ErrorNote, Field, Json, Section, useCursor } from '../../components/ui.js';
import { api, query } from '../../lib/api.js';
import { shortId, time } from '../../lib/format.js';
import { setSearch, useLocation } from '../../lib/router.js';
import { useSession } from '../../lib/session.js';

type DeadLetter = {
  id: string;
  consumer: string;
  subject: string;
  type: string;
  reason: string;
  attempts: number;
  error: string;
  failedAt: string;
  headers: Record<string, unknown>;
  payload: unknown;
};

export default function DeadLetters() {
  const { search } = useLocation();
  const session = useSession();
  const consumer = search.get('consumer') ?? '';
  const type = search.get('type') ?? '';
  const cursor = useCursor();
  const client = useQueryClient();
  const [selected, setSelected] = useState<string | null>(null);
  const list = useQuery({
    queryKey: ['dlq', consumer, type, cursor.after],
    queryFn: () =>
      api<{ messages: DeadLetter[]; next: string | null }>(`/api/dlq${query({ consumer, type, after: cursor.after, limit: 50 })}`),
  });
  const done = () => {
    setSelected(null);
    void client.invalidateQueries({ queryKey: ['dlq'] });
  };
  const redrive = useMutation({ mutationFn: (id: string) => api(`/api/dlq/${id}/redrive`, { method: 'POST' }), onSuccess: done });
  const remove = useMutation({ mutationFn: (id: string) => api(`/api/dlq/${id}`, { method: 'DELETE' }), onSuccess: done });
  const letter = list.data?.messages.find((message) => message.id === selected);
  return (
    <>
      <h1>Dead letters</h1>
      <Section title="Filters">
        <form
          className="row"
          onSubmit={(event) => {
            event.preventDefault();
            const form = new FormData(event.currentTarget);
            cursor.reset();
            setSearch({ consumer: String(form.get('consumer') ?? '').trim(), type: String(form.get('type') ?? '').trim() });
          }}
        >
          <Field label="Consumer">
            <input name="consumer" defaultValue={consumer} />
          </Field>
          <Field label="Type">
            <input name="type" defaultValue={type} />
          </Field>
          <button type="submit">Apply</button>
        </form>
      </Section>
      <div className="grid2 wide-left">
        <Section title="DLQ">
          <ErrorNote error={list.error} />
          <table>
            <thead>
              <tr>
                <th scope="col">Dead letter</th>
                <th scope="col">Consumer</th>
                <th scope="col">Type</th>
                <th scope="col">Reason</th>
                <th scope="col">Attempts</th>
                <th scope="col">Failed</th>
              </tr>
            </thead>
            <tbody>
              {list.data?.messages.map((message) => (
                <tr key={message.id} data-id={message.id} aria-selected={selected === message.id}>
                  <td>
                    <button type="button" className="linkish" onClick={() => setSelected(message.id)}>
                      {shortId(message.id)}
                    </button>
                  </td>
                  <td>{message.consumer}</td>
                  <td>{message.type}</td>
                  <td>{message.reason}</td>
                  <td>{message.attempts}</td>
                  <td>{time(message.failedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {list.data?.messages.length === 0 ? <p>The DLQ is empty.</p> : null}
          {cursor.pager(list.data?.next)}
        </Section>
        <Section title="Dead letter">
          {letter ? (
            <div data-testid="dead-letter">
              <p className="actions">
                <button type="button" className="primary" disabled={redrive.isPending} onClick={() => redrive.mutate(letter.id)}>
                  Redrive to {letter.consumer}
                </button>
                {session?.role === 'admin' || session?.role === 'agent' ? (
                  <button
                    type="button"
                    className="danger"
                    disabled={remove.isPending}
                    onClick={() => window.confirm('Delete this dead letter for good?') && remove.mutate(letter.id)}
                  >
                    Delete
                  </button>
                ) : null}
              </p>
              <ErrorNote error={redrive.error ?? remove.error} />
              <h3>Error</h3>
              <pre className="json" tabIndex={0}>
                {letter.error}
              </pre>
              <h3>Subject</h3>
              <code>{letter.subject}</code>
              <h3>Headers</h3>
              <Json value={letter.headers} />
              <h3>Payload</h3>
              <Json value={letter.payload} />
            </div>
          ) : (
            <p>Choose a dead letter to see its payload, headers and error.</p>
          )}
        </Section>
      </div>
    </>
  );
}
