import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Badge, ErrorNote, Field, Json, Section } from '../../components/ui.js';
import { api, query } from '../../lib/api.js';
import { type ProjectionStatus, ProjectionsTable } from './Projections.js';

type Status = { mirror: { position: number; streamPosition: number; lag: number; active: boolean }; projections: ProjectionStatus[] };
type Verification = {
  fromPosition: number;
  toPosition: number;
  stream: { count: number; hash: string };
  mirror: { count: number; hash: string };
  missing: number[];
  extra: number[];
  ok: boolean;
};

export default function EventStore() {
  const status = useQuery({
    queryKey: ['event-store-status'],
    queryFn: () => api<Status>('/api/event-store/status'),
    refetchInterval: 3000,
  });
  const [range, setRange] = useState({ from: '', to: '' });
  const verify = useMutation({
    mutationFn: () => api<Verification>(`/api/event-store/verify${query({ fromPosition: range.from, toPosition: range.to })}`),
  });
  return (
    <>
      <h1>Event store</h1>
      <ErrorNote error={status.error} />
      {status.data ? (
        <Section title="Mirror of the EVENTS stream">
          <dl className="facts">
            <dt>Mirrored up to</dt>
            <dd>{status.data.mirror.position}</dd>
            <dt>Stream at</dt>
            <dd>{status.data.mirror.streamPosition}</dd>
            <dt>Lag</dt>
            <dd>{status.data.mirror.lag}</dd>
            <dt>This replica mirrors</dt>
            <dd>{status.data.mirror.active ? 'yes' : 'no (another replica holds the lock)'}</dd>
          </dl>
        </Section>
      ) : null}
      <Section title="Verify the mirror against the stream">
        <form
          className="row"
          onSubmit={(event) => {
            event.preventDefault();
            verify.mutate();
          }}
        >
          <Field label="From position">
            <input
              inputMode="numeric"
              value={range.from}
              onChange={(event) => setRange({ ...range, from: event.target.value })}
              placeholder="1"
            />
          </Field>
          <Field label="To position">
            <input
              inputMode="numeric"
              value={range.to}
              onChange={(event) => setRange({ ...range, to: event.target.value })}
              placeholder="last"
            />
          </Field>
          <button type="submit" disabled={verify.isPending}>
            Verify
          </button>
        </form>
        <ErrorNote error={verify.error} />
        {verify.data ? (
          <div data-testid="verification">
            <p>
              <Badge value={verify.data.ok ? 'LIVE' : 'ERROR'} /> positions {verify.data.fromPosition}–{verify.data.toPosition}: stream{' '}
              {verify.data.stream.count} events, mirror {verify.data.mirror.count};{' '}
              {verify.data.ok ? 'identical' : `${verify.data.missing.length} missing, ${verify.data.extra.length} extra`}
            </p>
            <Json value={verify.data} />
          </div>
        ) : null}
      </Section>
      {status.data ? (
        <Section title="Projections">
          <ProjectionsTable projections={status.data.projections} />
        </Section>
      ) : null}
    </>
  );
}
