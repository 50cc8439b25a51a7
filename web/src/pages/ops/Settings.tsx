import { useState } from 'react';
import { Field, Section } from '../../components/ui.js';
import { saveLinks, useLinks } from '../../lib/config.js';

export default function Settings() {
  const links = useLinks();
  const [form, setForm] = useState({ jaeger: links.jaeger ?? '', grafana: links.grafana ?? '' });
  const [saved, setSaved] = useState(false);
  return (
    <>
      <h1>Settings</h1>
      <Section title="Where traces and dashboards are">
        <p className="hint">
          The saga page links to its trace and dashboards there. The gateway's defaults come from GATEWAY_CONSOLE_JAEGER_URL and
          GATEWAY_CONSOLE_GRAFANA_URL; these are kept in this browser. The saga page draws the trace itself (a waterfall, from the trace
          API): the Jaeger that <code>npm run jaeger</code> builds has no UI, so set a Jaeger address only for a Jaeger with its UI; on a
          cluster, Grafana opens the trace in Tempo.
        </p>
        <form
          className="stack"
          onSubmit={(event) => {
            event.preventDefault();
            saveLinks(form);
            setSaved(true);
          }}
        >
          <Field label="Jaeger UI base URL">
            <input
              type="url"
              value={form.jaeger}
              onChange={(event) => setForm({ ...form, jaeger: event.target.value })}
              placeholder="http://127.0.0.1:16686"
            />
          </Field>
          <Field label="Grafana base URL">
            <input
              type="url"
              value={form.grafana}
              onChange={(event) => setForm({ ...form, grafana: event.target.value })}
              placeholder="http://127.0.0.1:3000"
            />
          </Field>
          <button type="submit">Save</button>
          {saved ? <p role="status">Saved.</p> : null}
        </form>
      </Section>
    </>
  );
}
