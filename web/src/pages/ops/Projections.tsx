import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Badge, ErrorNote, Section } from '../../components/ui.js';
import { api } from '../../lib/api.js';
import { time } from '../../lib/format.js';
import { useSession } from '../../lib/session.js';

export type ProjectionStatus = {
  name: string;
  version: number;
  state: string;
  position: number;
  lag: number;
  startedAt: string;
  liveAt: string | null;
};

export function ProjectionsTable({
  projections,
  onRebuild,
  busy,
}: {
  projections: ProjectionStatus[];
  onRebuild?: (name: string) => void;
  busy?: boolean;
}) {
  const building = new Set(projections.filter((p) => p.state === 'BUILDING').map((p) => p.name));
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Projection</th>
          <th scope="col">Version</th>
          <th scope="col">State</th>
          <th scope="col">Position</th>
          <th scope="col">Lag</th>
          <th scope="col">Progress</th>
          <th scope="col">Live since</th>
          {onRebuild ? (
            <th scope="col">
              <span className="sr-only">Rebuild</span>
            </th>
          ) : null}
        </tr>
      </thead>
      <tbody>
        {projections.map((projection) => {
          const total = projection.position + projection.lag;
          const percent = total > 0 ? Math.floor((projection.position / total) * 100) : 100;
          return (
            <tr key={`${projection.name}-${projection.version}`} data-projection={projection.name} data-state={projection.state}>
              <td>{projection.name}</td>
              <td>v{projection.version}</td>
              <td>
                <Badge value={projection.state} />
              </td>
              <td>{projection.position}</td>
              <td>{projection.lag}</td>
              <td>
                <progress max={100} value={percent} aria-label={`${projection.name} v${projection.version} caught up`}>
                  {percent}%
                </progress>{' '}
                {percent}%
              </td>
              <td>{time(projection.liveAt)}</td>
              {onRebuild ? (
                <td>
                  {projection.state === 'LIVE' ? (
                    <button
                      type="button"
                      disabled={busy || building.has(projection.name)}
                      onClick={() => onRebuild(projection.name)}
                      aria-label={`Rebuild ${projection.name}`}
                    >
                      Rebuild
                    </button>
                  ) : null}
                </td>
              ) : null}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export default function Projections() {
  const session = useSession();
  const client = useQueryClient();
  const projections = useQuery({
    queryKey: ['projections'],
    queryFn: () => api<{ projections: ProjectionStatus[] }>('/api/projections'),
    // A rebuild's progress: refreshed every second while one builds.
    refetchInterval: (query) => (query.state.data?.projections.some((p) => p.state !== 'LIVE') ? 1000 : 5000),
  });
  const rebuild = useMutation({
    mutationFn: (name: string) => api<ProjectionStatus>(`/api/projections/${name}/rebuild`, { method: 'POST' }),
    onSuccess: () => void client.invalidateQueries({ queryKey: ['projections'] }),
  });
  return (
    <>
      <h1>Projections</h1>
      <Section title="Read models">
        <p className="hint">
          A rebuild replays every event into a new version beside the live one; reads keep answering from the live one until the new one has
          caught up.
        </p>
        <ErrorNote error={projections.error ?? rebuild.error} />
        {projections.data ? (
          <ProjectionsTable
            projections={projections.data.projections}
            {...(session?.role === 'admin' ? { onRebuild: (name: string) => rebuild.mutate(name) } : {})}
            busy={rebuild.isPending}
          />
        ) : null}
      </Section>
    </>
  );
}
