import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Badge, ErrorNote, Field, Json, Section, useCursor } from '../../components/ui.js';
import { api, query } from '../../lib/api.js';
import { shortId, time } from '../../lib/format.js';
import { useSession } from '../../lib/session.js';

type Entry = {
  position: number;
  eventId: string;
  streamSequence: number;
  type: string;
  aggregateType: string;
  aggregateId: string;
  correlationId: string;
  actor: string;
  occurredAt: string;
  recordedAt: string;
  tags: string[];
  hash: string;
  envelope: Record<string, unknown>;
};
type EntryPage = { entries: Entry[]; next: string | null };
type Verdict = {
  ok: boolean;
  from: number;
  to: number;
  checked: number;
  checkpoints: number;
  firstBroken: { position: number; id: string | null; reason: string; detail: string } | null;
};

const TAGS = ['PCI', 'GDPR', 'FINANCIAL', 'SECURITY'];
const EMPTY = { q: '', type: '', actor: '', tag: '', correlationId: '' };

function Entries({ page, label }: { page: EntryPage; label: string }) {
  const [open, setOpen] = useState<number | null>(null);
  const chosen = page.entries.find((entry) => entry.position === open);
  if (page.entries.length === 0) return <p>No entry.</p>;
  return (
    <div className="grid2 wide-left">
      <table aria-label={label}>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Event</th>
            <th scope="col">Aggregate</th>
            <th scope="col">Actor</th>
            <th scope="col">At</th>
            <th scope="col">Tags</th>
            <th scope="col">Hash</th>
          </tr>
        </thead>
        <tbody>
          {page.entries.map((entry) => (
            <tr key={entry.position} data-position={entry.position} aria-selected={open === entry.position}>
              <td>{entry.position}</td>
              <td>
                <button type="button" className="linkish" onClick={() => setOpen(entry.position)}>
                  {entry.type}
                </button>
              </td>
              <td>
                {entry.aggregateType} <code>{shortId(entry.aggregateId)}</code>
              </td>
              <td className="clip">{entry.actor}</td>
              <td>{time(entry.occurredAt)}</td>
              <td>{entry.tags.join(', ') || '—'}</td>
              <td>
                <code>{entry.hash.slice(0, 12)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div>
        <h3>Entry</h3>
        {chosen ? <Json value={chosen} /> : <p>Choose an entry to see the event as it was published.</p>}
      </div>
    </div>
  );
}

/** The audit trail (services/audit, issue 15): search, one aggregate's trail, and the hash chain's verification. */
export default function Audit() {
  const session = useSession();
  const [filter, setFilter] = useState(EMPTY);
  const [applied, setApplied] = useState(EMPTY);
  const [trailOf, setTrailOf] = useState({ aggregateType: 'order', aggregateId: '' });
  const [trailShown, setTrailShown] = useState<typeof trailOf | null>(null);
  const cursor = useCursor();
  const trailCursor = useCursor();
  const search = useQuery({
    queryKey: ['audit-search', applied, cursor.after],
    queryFn: () => api<EntryPage>(`/api/audit/search${query({ ...applied, after: cursor.after, limit: 25 })}`),
    placeholderData: (previous) => previous,
  });
  const trail = useQuery({
    queryKey: ['audit-trail', trailShown, trailCursor.after],
    enabled: trailShown !== null,
    queryFn: () =>
      api<EntryPage>(
        `/api/audit/trail/${encodeURIComponent(trailShown!.aggregateType)}/${encodeURIComponent(trailShown!.aggregateId)}${query({ after: trailCursor.after, limit: 25 })}`,
      ),
  });
  const verify = useMutation({ mutationFn: () => api<Verdict>('/api/audit/verify') });
  return (
    <>
      <h1>Audit</h1>
      {session?.role === 'admin' ? (
        <Section
          title="Verify the chain"
          actions={
            <button type="button" onClick={() => verify.mutate()} disabled={verify.isPending}>
              Verify
            </button>
          }
        >
          <ErrorNote error={verify.error} />
          {verify.data ? (
            <p data-testid="audit-verdict">
              <Badge value={verify.data.ok ? 'INTACT' : 'BROKEN'} /> positions {verify.data.from} to {verify.data.to}: {verify.data.checked}{' '}
              entries checked, {verify.data.checkpoints} signed checkpoints
              {verify.data.firstBroken
                ? `; first broken at ${verify.data.firstBroken.position} (${verify.data.firstBroken.reason}): ${verify.data.firstBroken.detail}`
                : ''}
            </p>
          ) : (
            <p>Recomputes the trail's hash chain and checks its signed checkpoints.</p>
          )}
        </Section>
      ) : null}
      <Section title="Search">
        <form
          className="row"
          onSubmit={(event) => {
            event.preventDefault();
            cursor.reset();
            setApplied({ ...filter, q: filter.q.trim(), actor: filter.actor.trim(), correlationId: filter.correlationId.trim() });
          }}
        >
          <Field label="Text">
            <input value={filter.q} onChange={(event) => setFilter({ ...filter, q: event.target.value })} placeholder="refund -rejected" />
          </Field>
          <Field label="Event type">
            <input
              value={filter.type}
              onChange={(event) => setFilter({ ...filter, type: event.target.value })}
              placeholder="PaymentRefunded"
            />
          </Field>
          <Field label="Actor">
            <input value={filter.actor} onChange={(event) => setFilter({ ...filter, actor: event.target.value })} />
          </Field>
          <Field label="Tag">
            <select value={filter.tag} onChange={(event) => setFilter({ ...filter, tag: event.target.value })}>
              <option value="">any</option>
              {TAGS.map((tag) => (
                <option key={tag}>{tag}</option>
              ))}
            </select>
          </Field>
          <Field label="Correlation id">
            <input value={filter.correlationId} onChange={(event) => setFilter({ ...filter, correlationId: event.target.value })} />
          </Field>
          <button type="submit">Search</button>
        </form>
        <ErrorNote error={search.error} />
        {search.data ? <Entries page={search.data} label="Audit entries found" /> : <p aria-busy="true">Loading…</p>}
        {cursor.pager(search.data?.next)}
      </Section>
      <Section title="Trail of one aggregate">
        <form
          className="row"
          onSubmit={(event) => {
            event.preventDefault();
            trailCursor.reset();
            setTrailShown({ aggregateType: trailOf.aggregateType.trim(), aggregateId: trailOf.aggregateId.trim() });
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
        {trail.data ? <Entries page={trail.data} label="Trail" /> : null}
        {trailShown ? trailCursor.pager(trail.data?.next) : null}
      </Section>
    </>
  );
}
