import { useQuery } from '@tanstack/react-query';
import { Badge, ErrorNote, Field, SearchSelect, Section, useCursor } from '../../components/ui.js';
import { api, query } from '../../lib/api.js';
import { duration, shortId, time } from '../../lib/format.js';
import { Link, setSearch, useLocation } from '../../lib/router.js';
import { ORDER_STATUSES } from '../../lib/saga.js';

type SagaSummary = {
  correlationId: string;
  orderId: string | null;
  outcome: string;
  reason?: string;
  startedAt: string | null;
  durationMs: number | null;
  steps: number;
  lastType: string;
};

export default function Sagas() {
  const { search } = useLocation();
  const outcome = search.get('outcome') ?? '';
  const sort = search.get('sort') ?? '';
  const cursor = useCursor();
  const sagas = useQuery({
    queryKey: ['sagas', outcome, cursor.after],
    queryFn: () => api<{ sagas: SagaSummary[]; next: string | null }>(`/api/sagas${query({ outcome, after: cursor.after, limit: 50 })}`),
    placeholderData: (previous) => previous,
  });
  const rows = [...(sagas.data?.sagas ?? [])];
  if (sort === 'duration') rows.sort((a, b) => (b.durationMs ?? -1) - (a.durationMs ?? -1));
  return (
    <>
      <h1>Sagas</h1>
      <Section title="Filters">
        <form className="row" onSubmit={(event) => event.preventDefault()}>
          <SearchSelect label="Outcome" name="outcome" value={outcome} options={ORDER_STATUSES} cursor={cursor} />
          <Field label="Order of this page">
            <select value={sort} onChange={(event) => setSearch({ sort: event.target.value })}>
              <option value="">by correlation id</option>
              <option value="duration">longest first</option>
            </select>
          </Field>
        </form>
      </Section>
      <Section title="Sagas (saga-timelines read model)">
        <ErrorNote error={sagas.error} />
        <table>
          <thead>
            <tr>
              <th scope="col">Saga</th>
              <th scope="col">Outcome</th>
              <th scope="col">Started</th>
              <th scope="col">Duration</th>
              <th scope="col">Steps</th>
              <th scope="col">Last step</th>
              <th scope="col">Trace</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((saga) => (
              <tr key={saga.correlationId}>
                <td>
                  <Link href={`/ops/sagas/${saga.correlationId}`}>
                    <code>{shortId(saga.correlationId)}</code>
                  </Link>
                </td>
                <td>
                  <Badge value={saga.outcome} /> {saga.reason ?? ''}
                </td>
                <td>{time(saga.startedAt)}</td>
                <td>{duration(saga.durationMs)}</td>
                <td>{saga.steps}</td>
                <td>{saga.lastType}</td>
                <td>
                  <Link href={`/ops/sagas/${saga.correlationId}#trace`}>
                    waterfall<span className="sr-only"> of saga {shortId(saga.correlationId)}</span>
                  </Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {cursor.pager(sagas.data?.next)}
      </Section>
    </>
  );
}
