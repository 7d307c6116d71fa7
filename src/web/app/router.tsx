/**
 * A small router over the History API: the URL is the whole state of a view (path plus query),
 * so every view is a link that can be shared, bookmarked and reloaded.
 * The URL scheme is in routes.ts.
 *
 * Scroll positions are remembered per history entry (sessionStorage) and restored on
 * back/forward once the view has rendered its data.
 */
import type { AnchorHTMLAttributes, MouseEvent, ReactNode } from "react";
import { useSyncExternalStore } from "react";
import { parseRoute, type Route } from "./routes.ts";

export { type AdminPage, href, parseRoute, queryString, type Route } from "./routes.ts";

export interface Location {
  pathname: string;
  search: URLSearchParams;
  route: Route;
  /** Identifies the history entry (for scroll restoration). */
  key: string;
}

// ---- the history store -------------------------------------------------------------------

const listeners = new Set<() => void>();
let current: Location | undefined;
const SCROLL_KEY = "reestr.scroll";

function newKey(): string {
  return Math.random().toString(36).slice(2, 10);
}

function entryKey(): string {
  const state = history.state as { key?: unknown } | null;
  if (state && typeof state.key === "string") return state.key;
  const key = newKey();
  history.replaceState({ ...(state ?? {}), key }, "");
  return key;
}

function read(): Location {
  const { pathname, search } = window.location;
  const key = entryKey();
  if (
    current &&
    current.pathname === pathname &&
    current.search.toString() === search.slice(1) &&
    current.key === key
  ) {
    return current;
  }
  current = { pathname, search: new URLSearchParams(search), route: parseRoute(pathname), key };
  return current;
}

function notify(): void {
  for (const listener of listeners) listener();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

let pendingRestore: number | undefined;

if (typeof window !== "undefined") {
  history.scrollRestoration = "manual";
  window.addEventListener("popstate", () => {
    const key = entryKey();
    // A fragment jump (the skip link) is no change of view: leave scroll and focus alone.
    const sameView =
      current?.pathname === window.location.pathname &&
      current.search.toString() === window.location.search.slice(1);
    if (!sameView) pendingRestore = savedScroll()[key] ?? 0;
    notify();
  });
  window.addEventListener("pagehide", rememberScroll);
}

function savedScroll(): Record<string, number> {
  try {
    return JSON.parse(sessionStorage.getItem(SCROLL_KEY) ?? "{}") as Record<string, number>;
  } catch {
    return {};
  }
}

function rememberScroll(): void {
  const positions = savedScroll();
  positions[entryKey()] = window.scrollY;
  const keys = Object.keys(positions);
  // Keep the store small: the 100 most recent entries are plenty for back/forward.
  for (const stale of keys.slice(0, Math.max(0, keys.length - 100))) delete positions[stale];
  try {
    sessionStorage.setItem(SCROLL_KEY, JSON.stringify(positions));
  } catch {
    // storage full or disabled: scroll restoration is a nicety
  }
}

/**
 * Goes to `to` (path and query). `replace` rewrites the current entry, for state that changes
 * while typing (search boxes), so Back leaves the view instead of undoing keystrokes.
 */
export function navigate(to: string, options: { replace?: boolean; keepScroll?: boolean } = {}): void {
  const target = new URL(to, window.location.href);
  if (target.pathname + target.search === window.location.pathname + window.location.search) return;
  if (options.replace) {
    history.replaceState({ key: entryKey() }, "", target.pathname + target.search + target.hash);
  } else {
    rememberScroll();
    history.pushState({ key: newKey() }, "", target.pathname + target.search + target.hash);
    pendingRestore = options.keepScroll ? undefined : 0;
  }
  notify();
}

export function useLocation(): Location {
  return useSyncExternalStore(subscribe, read, read);
}

/**
 * Called by views once their main data is on screen: applies a pending scroll position
 * (0 after a link, the saved one after back/forward).
 */
export function restoreScroll(): void {
  if (pendingRestore === undefined) return;
  const top = pendingRestore;
  pendingRestore = undefined;
  window.scrollTo({ top, left: 0, behavior: "instant" });
}

/** Sets query parameters of the current URL (undefined or "" removes one). */
export function updateQuery(
  changes: Record<string, string | undefined>,
  options: { replace?: boolean } = {},
): void {
  const params = new URLSearchParams(window.location.search);
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined || value === "") params.delete(key);
    else params.set(key, value);
  }
  const search = params.toString();
  navigate(window.location.pathname + (search ? `?${search}` : ""), { ...options, keepScroll: true });
}

type LinkProps = AnchorHTMLAttributes<HTMLAnchorElement> & { href: string; children: ReactNode };

/** An ordinary link (open in new tab, copy link address all work) that navigates in place on a plain click. */
export function Link({ href: to, onClick, children, ...rest }: LinkProps) {
  const handle = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (
      event.defaultPrevented ||
      event.button !== 0 ||
      event.metaKey ||
      event.ctrlKey ||
      event.shiftKey ||
      event.altKey ||
      rest.target === "_blank"
    ) {
      return;
    }
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={handle} {...rest}>
      {children}
    </a>
  );
}
