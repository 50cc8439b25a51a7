import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { ErrorNote, Field, Json, Section, useCursor } from '../../components/ui.js';
import { api, query } from '../../lib/api.js';
import { nextOf, Records } from './Records.js';

/** The audit trail (services/audit, issue 15): search, one aggregate's trail, and the hash chain's verification. */
export default function Audit() {
  const [filter, setFilter] = useState({ q: '', type: '', actor: '' });
  const [applied, setApplied] = useState(filter);
  const [trailOf, setTrailOf] = useState({ aggregateType: 'order', aggregateId: '' });
  const cursor = useCursor();
  const search = useQuery({
    queryKey: ['audit-search', applied, cursor.after],
    queryFn: () => api<unknown>(`/api/audit/search${query({ ...applied, after: cursor.after, limit: 50 })}`),
  });
  const trail = useMutation({
    mutationFn: () =>
      api<unknown>(`/api/audit/trail/${encodeURIComponent(trailOf.aggregateType)}/${encodeURIComponent(trailOf.aggregateId)}`),
  });
  const verify = useMutation({ mutationFn: () => api<unknown>('/api/audit/verify') });
  const columns = ['sequence', 'type', 'aggregateType', 'aggregateId', 'actor', 'occurredAt', 'hash'];
  return (
    <>
      <h1>Audit</h1>
      <Section
        title="Verify the chain"
        actions={
          <button type="button" onClick={() => verify.mutate()} disabled={verify.isPending}>
            Verify
          </button>
        }
      >
        <ErrorNote error={verify.error} />
        {verify.data ? <Json value={verify.data} /> : <p>Recomputes the trail's hash chain and checks its signed checkpoints.</p>}
      </Section>
      <Section title="Search">
        <form
          className="row"
          onSubmit={(event) => {
            event.preventDefault();
            cursor.reset();
            setApplied(filter);
          }}
        >
          <Field label="Text">
            <input value={filter.q} onChange={(event) => setFilter({ ...filter, q: event.target.value })} />
          </Field>
          <Field label="Event type">
            <input value={filter.type} onChange={(event) => setFilter({ ...filter, type: event.target.value })} />
          </Field>
          <Field label="Actor">
            <input value={filter.actor} onChange={(event) => setFilter({ ...filter, actor: event.target.value })} />
          </Field>
          <button type="submit">Search</button>
        </form>
        <ErrorNote error={search.error} />
        {search.data ? <Records answer={search.data} columns={columns} /> : null}
        {cursor.pager(nextOf(search.data))}
      </Section>
      <Section title="Trail of one aggregate">
        <form
          className="row"
          onSubmit={(event) => {
            event.preventDefault();
            trail.mutate();
          }}
        >
          <Field label="Aggregate type">
            <input value={trailOf.aggregateType} onChange={(event) => setTrailOf({ ...trailOf, aggregateType: event.target.value })} />
          </Field>
          <Field label="Aggregate id">
            <input required value={trailOf.aggregateId} onChange={(event) => setTrailOf({ ...trailOf, aggregateId: event.target.value })} />
          </Field>
          <button type="submit">Show the trail</button>
        </form>
        <ErrorNote error={trail.error} />
        {trail.data ? <Records answer={trail.data} columns={columns} /> : null}
      </Section>
    </>
  );
}
