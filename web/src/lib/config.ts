import { useQuery } from '@tanstack/react-query';

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
