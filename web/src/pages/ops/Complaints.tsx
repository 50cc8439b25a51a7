import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Badge, ErrorNote, Field, Section, useCursor } from '../../components/ui.js';
import { api, query } from '../../lib/api.js';
import { money, shortId, time } from '../../lib/format.js';
import { setSearch, useLocation } from '../../lib/router.js';
import { useSession } from '../../lib/session.js';

type Complaint = {
  id: string;
  customerId: string;
  orderId?: string;
  title: string;
  description: string;
  priority: string;
  category: string;
  status: string;
  deadlineAt: string;
  assignee?: string;
  resolution?: string;
  refundCents?: number;
  escalation?: string;
};
type Detail = Complaint & {
  refunds: { refundId: string; amountCents: number; status: string; rejectionReason?: string }[];
  timeline: { type: string; occurredAt: string; actor?: string }[];
};

function ComplaintDetail({ id }: { id: string }) {
  const session = useSession()!;
  const client = useQueryClient();
  const detail = useQuery({
    queryKey: ['complaint', id],
    queryFn: () => api<Detail>(`/api/complaints/${id}`),
    // A refund's answer comes from payment a moment after the resolution.
    refetchInterval: (query) => (query.state.data?.refunds.some((refund) => refund.status === 'REQUESTED') ? 1000 : false),
  });
  const [agent, setAgent] = useState(session.subject);
  const [resolution, setResolution] = useState('');
  const [refund, setRefund] = useState('');
  const step = useMutation({
    mutationFn: ({ name, body }: { name: string; body?: unknown }) =>
      api(`/api/complaints/${id}/${name}`, { method: 'POST', ...(body ? { body } : {}) }),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ['complaint', id] });
      void client.invalidateQueries({ queryKey: ['complaints'] });
    },
  });
  const complaint = detail.data;
  if (!complaint) return <ErrorNote error={detail.error} />;
  return (
    <div data-testid="complaint">
      <h3>{complaint.title}</h3>
      <p>
        <Badge value={complaint.status} /> {complaint.priority} · {complaint.category} · due {time(complaint.deadlineAt)}
        {complaint.escalation ? ` · escalated ${complaint.escalation}` : ''}
      </p>
      <p>{complaint.description}</p>
      {complaint.status === 'OPEN' ? (
        <form
          className="row"
          onSubmit={(event) => {
            event.preventDefault();
            step.mutate({ name: 'assign', body: { agent } });
          }}
        >
          <Field label="Agent">
            <input value={agent} onChange={(event) => setAgent(event.target.value)} />
          </Field>
          <button type="submit">Assign</button>
        </form>
      ) : null}
      {complaint.status === 'ASSIGNED' ? (
        <button type="button" onClick={() => step.mutate({ name: 'start' })}>
          Start working on it
        </button>
      ) : null}
      {complaint.status === 'IN_PROGRESS' ? (
        <form
          className="stack"
          onSubmit={(event) => {
            event.preventDefault();
            const cents = Math.round(Number(refund) * 100);
            step.mutate({ name: 'resolve', body: { resolution, ...(refund && cents > 0 ? { refundCents: cents } : {}) } });
          }}
        >
          <Field label="Resolution">
            <textarea required rows={2} value={resolution} onChange={(event) => setResolution(event.target.value)} />
          </Field>
          <Field label="Refund (€, optional)">
            <input inputMode="decimal" value={refund} onChange={(event) => setRefund(event.target.value)} />
          </Field>
          <button type="submit">Resolve</button>
        </form>
      ) : null}
      {complaint.status === 'RESOLVED' ? (
        <button type="button" onClick={() => step.mutate({ name: 'close' })}>
          Close
        </button>
      ) : null}
      <ErrorNote error={step.error} />
      {complaint.resolution ? <p>Resolution: {complaint.resolution}</p> : null}
      <h4>Refunds</h4>
      <ul aria-label="Refunds">
        {complaint.refunds.map((refund) => (
          <li key={refund.refundId} data-status={refund.status}>
            {money(refund.amountCents)} <Badge value={refund.status} /> {refund.rejectionReason ?? ''}
          </li>
        ))}
        {complaint.refunds.length === 0 ? <li>none</li> : null}
      </ul>
      <h4>Timeline</h4>
      <ol className="steps">
        {complaint.timeline.map((entry, index) => (
          <li key={index}>
            <span className="step-name">{entry.type}</span> <span className="step-meta">{time(entry.occurredAt)}</span>
          </li>
        ))}
      </ol>
    </div>
  );
}

export default function Complaints() {
  const { search } = useLocation();
  const status = search.get('status') ?? '';
  const selected = search.get('id');
  const cursor = useCursor();
  const list = useQuery({
    queryKey: ['complaints', status, cursor.after],
    queryFn: () =>
      api<{ complaints: Complaint[]; next: string | null }>(`/api/complaints${query({ status, after: cursor.after, limit: 50 })}`),
  });
  return (
    <>
      <h1>Complaints</h1>
      <div className="grid2 wide-left">
        <Section
          title="Desk"
          actions={
            <label className="inline">
              Status{' '}
              <select
                value={status}
                onChange={(event) => {
                  cursor.reset();
                  setSearch({ status: event.target.value });
                }}
              >
                <option value="">any</option>
                {['OPEN', 'ASSIGNED', 'IN_PROGRESS', 'RESOLVED', 'CLOSED'].map((value) => (
                  <option key={value}>{value}</option>
                ))}
              </select>
            </label>
          }
        >
          <ErrorNote error={list.error} />
          <table>
            <thead>
              <tr>
                <th scope="col">Complaint</th>
                <th scope="col">Priority</th>
                <th scope="col">Status</th>
                <th scope="col">Order</th>
                <th scope="col">Due</th>
              </tr>
            </thead>
            <tbody>
              {list.data?.complaints.map((complaint) => (
                <tr key={complaint.id} aria-selected={selected === complaint.id}>
                  <td>
                    <button type="button" className="linkish" onClick={() => setSearch({ id: complaint.id })}>
                      {complaint.title}
                    </button>
                  </td>
                  <td>{complaint.priority}</td>
                  <td>
                    <Badge value={complaint.status} />
                  </td>
                  <td>
                    <code>{shortId(complaint.orderId)}</code>
                  </td>
                  <td>{time(complaint.deadlineAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {cursor.pager(list.data?.next)}
        </Section>
        <Section title="Complaint">{selected ? <ComplaintDetail id={selected} /> : <p>Choose a complaint.</p>}</Section>
      </div>
    </>
  );
}
