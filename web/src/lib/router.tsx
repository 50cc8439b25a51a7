import { type AnchorHTMLAttributes, type MouseEvent, useSyncExternalStore } from 'react';

/**
 * The console's router: the History API and one hook. Routes are a table of patterns (`/ops/sagas/:id`) matched in
 * order; a dozen pages do not need more, and it keeps the initial bundle small (ADR 0053).
 */
const listeners = new Set<() => void>();
const notify = () => {
  for (const listener of listeners) listener();
};
window.addEventListener('popstate', notify);

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  window.scrollTo(0, 0);
  notify();
}

const snapshot = () => location.pathname + location.search + location.hash;

export function useLocation(): { path: string; search: URLSearchParams; hash: string; href: string } {
  const href = useSyncExternalStore((listener) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  }, snapshot);
  const url = new URL(href, location.origin);
  return { path: url.pathname, search: url.searchParams, hash: url.hash, href };
}

/** `/ops/sagas/:id` against `/ops/sagas/42` -> `{id: '42'}`; undefined when it does not match. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/').filter(Boolean);
  const got = path.split('/').filter(Boolean);
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, part] of want.entries()) {
    const value = got[index]!;
    if (part.startsWith(':')) params[part.slice(1)] = decodeURIComponent(value);
    else if (part !== value) return undefined;
  }
  return params;
}

/** Replaces some query parameters of the current address (filters kept in the URL, so a page can be shared). */
export function setSearch(values: Record<string, string | undefined>): void {
  const url = new URL(location.href);
  for (const [key, value] of Object.entries(values)) {
    if (value) url.searchParams.set(key, value);
    else url.searchParams.delete(key);
  }
  navigate(url.pathname + url.search, { replace: true });
}

export function Link({ href, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const { path } = useLocation();
  const current = path === href || (href !== '/' && href.startsWith('/ops/') && path.startsWith(href + '/'));
  return (
    <a
      href={href}
      {...(current ? { 'aria-current': 'page' as const } : {})}
      onClick={(event: MouseEvent<HTMLAnchorElement>) => {
        onClick?.(event);
        if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        navigate(href);
      }}
      {...rest}
    />
  );
}
