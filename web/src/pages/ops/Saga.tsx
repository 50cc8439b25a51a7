import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef } from 'react';
import { Mermaid } from '../../components/Mermaid.js';
import { Badge, ErrorNote, Section } from '../../components/ui.js';
import { Waterfall } from '../../components/Waterfall.js';
import { api, ApiError } from '../../lib/api.js';
import { useLinks } from '../../lib/config.js';
import { duration, time } from '../../lib/format.js';
import { Link, useLocation } from '../../lib/router.js';
import { COMPENSATIONS } from '../../lib/saga.js';
import type { Trace } from '../../lib/waterfall.js';

type Saga = {
  correlationId: string;
  outcome: string;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  services: string[];
  steps: {
    position: number;
    type: string;
    service: string;
    phase: string;
    aggregateType: string;
    aggregateId: string;
    occurredAt: string;
    sinceStartMs: number;
  }[];
};

function grafanaLinks(base: string, saga: Saga, traceId: string | undefined) {
  const from = new Date(saga.startedAt).getTime() - 60_000;
  const to = (saga.endedAt ? new Date(saga.endedAt).getTime() : Date.now()) + 60_000;
  const dashboard = `${base.replace(/\/$/, '')}/d/jetsaga-sagas?from=${from}&to=${to}`;
  const explore = traceId
    ? `${base.replace(/\/$/, '')}/explore?schemaVersion=1&panes=${encodeURIComponent(
        JSON.stringify({
          a: {
            datasource: 'tempo',
            queries: [{ refId: 'A', datasource: { type: 'tempo', uid: 'tempo' }, queryType: 'traceql', query: traceId }],
          },
        }),
      )}`
    : undefined;
  return { dashboard, explore };
}

/** The saga's trace through the event store (Jaeger or Tempo behind it); asked again while the saga runs. */
function useTrace(correlationId: string, pending: boolean) {
  return useQuery({
    queryKey: ['saga-trace', correlationId],
    queryFn: () => api<Trace>(`/api/sagas/${correlationId}/trace`),
    retry: false,
    refetchInterval: pending ? 3000 : false,
  });
}

/** The span waterfall beside the timeline: the console's own trace view (locally Jaeger has no UI, ADR 0053). */
function TraceSection({ correlationId, pending }: { correlationId: string; pending: boolean }) {
  const trace = useTrace(correlationId, pending);
  const { hash } = useLocation();
  const anchor = useRef<HTMLDivElement>(null);
  const loaded = trace.data !== undefined;
  useEffect(() => {
    if (hash === '#trace' && loaded) anchor.current?.scrollIntoView();
  }, [hash, loaded]);
  return (
    <div id="trace" ref={anchor}>
      <Section
        title="Trace"
        actions={
          <button type="button" onClick={() => void trace.refetch()} disabled={trace.isFetching}>
            Reload the trace
          </button>
        }
      >
        {trace.data ? <Waterfall trace={trace.data} /> : null}
        {trace.isPending ? <p aria-busy="true">Loading the trace…</p> : null}
        {trace.error instanceof ApiError && trace.error.status === 503 ? (
          <p>Tracing is off in this system (no Jaeger or Tempo configured: README, Observability).</p>
        ) : null}
        {trace.error instanceof ApiError && trace.error.status === 404 ? (
          <p>No trace for this saga (not sampled, or expired from the trace store).</p>
        ) : null}
        {trace.error && !(trace.error instanceof ApiError && [503, 404].includes(trace.error.status)) ? (
          <ErrorNote error={trace.error} />
        ) : null}
      </Section>
    </div>
  );
}

export default function SagaPage({ correlationId }: { correlationId: string }) {
  const links = useLinks();
  const saga = useQuery({ queryKey: ['saga', correlationId], queryFn: () => api<Saga>(`/api/sagas/${correlationId}`) });
  const diagram = useQuery({
    queryKey: ['saga-mermaid', correlationId],
    queryFn: () => api<string>(`/api/sagas/${correlationId}?format=mermaid`, { text: true }),
  });
  const trace = useTrace(correlationId, false);
  const traceId = trace.data?.traceId;
  const grafana = links.grafana && saga.data ? grafanaLinks(links.grafana, saga.data, traceId) : undefined;
  return (
    <>
      <h1>
        Saga <code>{correlationId}</code>
      </h1>
      <ErrorNote error={saga.error} />
      {saga.data ? (
        <>
          <p className="status-line">
            <Badge value={saga.data.outcome} /> {saga.data.steps.length} steps across {saga.data.services.length} services in{' '}
            {duration(saga.data.durationMs)}, started {time(saga.data.startedAt)}
          </p>
          <p className="links">
            <Link href={`/orders/${correlationId}`}>Its order</Link>
            {links.jaeger && traceId ? <a href={`${links.jaeger.replace(/\/$/, '')}/trace/${traceId}`}>Trace in Jaeger</a> : null}
            {grafana?.explore ? <a href={grafana.explore}>Trace in Grafana (Tempo)</a> : null}
            {grafana ? <a href={grafana.dashboard}>Saga dashboard in Grafana</a> : null}
            {!links.jaeger && !links.grafana ? <Link href="/ops/settings">Set the Jaeger and Grafana addresses</Link> : null}
          </p>
          <div className="saga-views">
            <Section title="Timeline across services">
              <div
                className="timeline"
                // Focusable: it scrolls sideways when the services do not fit.
                tabIndex={0}
                role="region"
                aria-label="Steps by service"
                style={{ gridTemplateColumns: `6rem repeat(${saga.data.services.length}, minmax(5.5rem, 1fr))` }}
              >
                <span className="timeline-head">since start</span>
                {saga.data.services.map((service) => (
                  <span key={service} className="timeline-head">
                    {service}
                  </span>
                ))}
                {saga.data.steps.map((step) => (
                  <div key={step.position} className="timeline-row" data-type={step.type}>
                    <span className="since">+{duration(step.sinceStartMs)}</span>
                    {saga.data!.services.map((service) => (
                      <span key={service} className="cell">
                        {service === step.service ? (
                          <span className={COMPENSATIONS.has(step.type) ? 'step compensation' : 'step'}>{step.type}</span>
                        ) : null}
                      </span>
                    ))}
                  </div>
                ))}
              </div>
            </Section>
            <TraceSection correlationId={correlationId} pending={saga.data.outcome === 'PENDING'} />
          </div>
          <Section title="Sequence diagram">
            {diagram.data ? (
              <Mermaid source={diagram.data} label={`Sequence diagram of saga ${correlationId}`} />
            ) : (
              <ErrorNote error={diagram.error} />
            )}
          </Section>
        </>
      ) : null}
    </>
  );
}
