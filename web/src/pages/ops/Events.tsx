import { useCallback, useRef, useState } from 'react';
import { ErrorNote, Field, Json, Section } from '../../components/ui.js';
import { shortId, time } from '../../lib/format.js';
import { setSearch, useLocation } from '../../lib/router.js';
import { type StreamEvent, useEventStream } from '../../lib/stream.js';

const KEEP = 500;

/** The live event stream (SSE), filtered on the server; pausing keeps the connection and holds what arrives meanwhile. */
export default function Events() {
  const { search } = useLocation();
  const filter = {
    type: search.get('type') ?? '',
    aggregateType: search.get('aggregateType') ?? '',
    aggregateId: search.get('aggregateId') ?? '',
    correlationId: search.get('correlationId') ?? '',
  };
  const [events, setEvents] = useState<StreamEvent[]>([]);
  const [paused, setPaused] = useState(false);
  const held = useRef<StreamEvent[]>([]);
  const [heldCount, setHeldCount] = useState(0);
  const [selected, setSelected] = useState<StreamEvent | null>(null);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const onEvent = useCallback((event: StreamEvent) => {
    if (pausedRef.current) {
      held.current.push(event);
      setHeldCount(held.current.length);
      return;
    }
    setEvents((previous) => [event, ...previous].slice(0, KEEP));
  }, []);
  const stream = useEventStream(Object.fromEntries(Object.entries(filter).filter(([, value]) => value !== '')), onEvent);
  const resume = () => {
    // Taken now: the state update runs later, when the list is already emptied for the next pause.
    const waiting = held.current.reverse();
    held.current = [];
    setEvents((previous) => [...waiting, ...previous].slice(0, KEEP));
    setHeldCount(0);
    setPaused(false);
  };
  return (
    <>
      <h1>Events</h1>
      <Section title="Filters">
        <form
          className="row"
          onSubmit={(event) => {
            event.preventDefault();
            const form = new FormData(event.currentTarget);
            setEvents([]);
            setSearch(
              Object.fromEntries(
                ['type', 'aggregateType', 'aggregateId', 'correlationId'].map((key) => [key, String(form.get(key) ?? '').trim()]),
              ),
            );
          }}
        >
          <Field label="Type">
            <input name="type" defaultValue={filter.type} placeholder="OrderPlaced" />
          </Field>
          <Field label="Aggregate type">
            <input name="aggregateType" defaultValue={filter.aggregateType} placeholder="order" />
          </Field>
          <Field label="Aggregate id">
            <input name="aggregateId" defaultValue={filter.aggregateId} />
          </Field>
          <Field label="Correlation id">
            <input name="correlationId" defaultValue={filter.correlationId} />
          </Field>
          <button type="submit">Apply</button>
        </form>
      </Section>
      <Section
        title="Live stream"
        actions={
          <span className="actions">
            <span className={`live ${stream.state}`} data-testid="stream-state">
              {stream.state}
            </span>
            {paused ? (
              <button type="button" onClick={resume}>
                Resume ({heldCount} waiting)
              </button>
            ) : (
              <button type="button" onClick={() => setPaused(true)}>
                Pause
              </button>
            )}
          </span>
        }
      >
        {stream.state === 'forbidden' || stream.state === 'unavailable' ? (
          <ErrorNote error={new Error(`the stream refused: ${stream.detail ?? stream.state}`)} />
        ) : null}
        <div className="grid2 wide-left">
          <table aria-label="Events, newest first">
            <thead>
              <tr>
                <th scope="col">Seq</th>
                <th scope="col">Type</th>
                <th scope="col">Aggregate</th>
                <th scope="col">Correlation</th>
                <th scope="col">At</th>
              </tr>
            </thead>
            <tbody>
              {events.map((event) => (
                <tr key={event.id} aria-selected={selected?.id === event.id} onClick={() => setSelected(event)}>
                  <td>{event.seq}</td>
                  <td>
                    <button type="button" className="linkish" onClick={() => setSelected(event)}>
                      {event.type}
                    </button>
                  </td>
                  <td>
                    {event.aggregateType} <code>{shortId(event.aggregateId)}</code>
                  </td>
                  <td>
                    <code>{shortId(event.correlationId)}</code>
                  </td>
                  <td>{time(event.occurredAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div>
            <h3>Envelope</h3>
            {selected ? <Json value={selected} /> : <p>Choose an event to see its envelope.</p>}
          </div>
        </div>
      </Section>
    </>
  );
}
