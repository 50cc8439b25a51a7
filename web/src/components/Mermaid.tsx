import { useEffect, useId, useRef, useState } from 'react';

/** A Mermaid diagram, drawn by the mermaid package loaded on first use (it is several times the rest of the console). */
export function Mermaid({ source, label }: { source: string; label: string }) {
  const host = useRef<HTMLDivElement>(null);
  const id = `mermaid-${useId().replace(/[^a-zA-Z0-9]/g, '')}`;
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    void import('mermaid')
      .then(async ({ default: mermaid }) => {
        mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: 'neutral', sequence: { useMaxWidth: true } });
        const { svg } = await mermaid.render(id, source);
        if (!cancelled && host.current) host.current.innerHTML = svg;
      })
      .catch((failure: unknown) => !cancelled && setError(failure instanceof Error ? failure.message : String(failure)));
    return () => {
      cancelled = true;
    };
  }, [id, source]);
  return (
    <figure className="mermaid">
      <div ref={host} role="img" aria-label={label} data-testid="mermaid" />
      {error ? <pre className="error">{error}</pre> : null}
      <details>
        <summary>Mermaid source</summary>
        <pre>{source}</pre>
      </details>
    </figure>
  );
}
