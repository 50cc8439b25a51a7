import { useQuery } from '@tanstack/react-query';
import { ApiError } from './api.js';
import { useSession } from './session.js';

export type ConsoleConfig = { devSignIn: boolean; links: { jaeger: string | null; grafana: string | null } };

const LINKS_KEY = 'jetsaga.links';

export function useConsoleConfig() {
  return useQuery({
    queryKey: ['console-config'],
    queryFn: async (): Promise<ConsoleConfig> => {
      const response = await fetch('/console/config');
      if (!response.ok) return { devSignIn: false, links: { jaeger: null, grafana: null } };
      return (await response.json()) as ConsoleConfig;
    },
    staleTime: Infinity,
  });
}

/** Trace and dashboard base URLs: the operator's own settings over the gateway's defaults. */
export function useLinks(): { jaeger: string | null; grafana: string | null } {
  const { data } = useConsoleConfig();
  const saved = JSON.parse(localStorage.getItem(LINKS_KEY) ?? '{}') as { jaeger?: string; grafana?: string };
  return { jaeger: saved.jaeger || data?.links.jaeger || null, grafana: saved.grafana || data?.links.grafana || null };
}

export function saveLinks(links: { jaeger: string; grafana: string }) {
  localStorage.setItem(LINKS_KEY, JSON.stringify(links));
}

/**
 * Whether a context's routes are there (audit, notification: built beside the console): a section appears when its
 * route answers anything but the gateway's 404 for an unknown route.
 */
export function useRouteExists(path: string) {
  const session = useSession();
  return (
    useQuery({
      queryKey: ['route-exists', path, session?.role],
      enabled: session !== null,
      staleTime: 60_000,
      retry: false,
      queryFn: async () => {
        const response = await fetch(path, { headers: { authorization: `Bearer ${session!.token}`, accept: 'application/json' } });
        if (response.status !== 404) return true;
        const problem = (await response.json().catch(() => ({}))) as { detail?: string };
        return !/no route/.test(problem.detail ?? '');
      },
    }).data === true
  );
}

export const isNotFound = (error: unknown) => error instanceof ApiError && error.status === 404;
