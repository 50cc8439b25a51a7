import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { ErrorNote, Field, Section } from '../../components/ui.js';
import { api } from '../../lib/api.js';
import { useLocation } from '../../lib/router.js';
import { useSession } from '../../lib/session.js';

type Complaint = { id: string; status: string; deadlineAt: string };

export function NewComplaint() {
  const session = useSession()!;
  const { search } = useLocation();
  const [form, setForm] = useState({ title: '', description: '', priority: 'MEDIUM', category: 'delivery' });
  const open = useMutation({
    mutationFn: () =>
      api<Complaint>('/api/complaints', {
        method: 'POST',
        body: {
          customerId: search.get('customerId') ?? session.subject,
          ...(search.get('orderId') ? { orderId: search.get('orderId') } : {}),
          ...(search.get('shipmentId') ? { shipmentId: search.get('shipmentId') } : {}),
          ...form,
        },
      }),
  });
  return (
    <>
      <h1>Open a complaint</h1>
      <Section title="Complaint">
        <form
          className="stack"
          onSubmit={(event) => {
            event.preventDefault();
            open.mutate();
          }}
        >
          <p className="hint">About order {search.get('orderId') ?? '(none)'}.</p>
          <Field label="Title">
            <input required maxLength={200} value={form.title} onChange={(event) => setForm({ ...form, title: event.target.value })} />
          </Field>
          <Field label="What happened">
            <textarea
              required
              rows={4}
              value={form.description}
              onChange={(event) => setForm({ ...form, description: event.target.value })}
            />
          </Field>
          <Field label="Priority">
            <select value={form.priority} onChange={(event) => setForm({ ...form, priority: event.target.value })}>
              {['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'].map((priority) => (
                <option key={priority}>{priority}</option>
              ))}
            </select>
          </Field>
          <Field label="Category">
            <input required value={form.category} onChange={(event) => setForm({ ...form, category: event.target.value })} />
          </Field>
          <button type="submit" disabled={open.isPending || open.isSuccess}>
            Send the complaint
          </button>
        </form>
        <ErrorNote error={open.error} />
        {open.data ? (
          <p role="status">
            Complaint <code>{open.data.id}</code> is {open.data.status}; an answer is due by{' '}
            {new Date(open.data.deadlineAt).toLocaleString('en-GB')}.
          </p>
        ) : null}
      </Section>
    </>
  );
}
