/** Pieces used by several views: breadcrumbs, the registry banner, pagination. */
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import type { RegistrySummary } from "../../api/client.ts";
import { formatCount } from "../format.ts";
import { registryQuery } from "../queries.ts";
import { Link } from "../router.tsx";

export function Breadcrumbs({ items }: { items: { label: string; href?: string }[] }) {
  return (
    <nav aria-label="Breadcrumb" className="breadcrumbs">
      <ol>
        {items.map((item, i) =>
          item.href && i < items.length - 1 ? (
            <li key={item.label}>
              <Link href={item.href}>{item.label}</Link>
            </li>
          ) : (
            <li key={item.label} aria-current="page">
              {item.label}
            </li>
          ),
        )}
      </ol>
    </nav>
  );
}

/** The registry's display name, or its id until the summary is loaded. */
export function useRegistry(registryId: string): { registry: RegistrySummary | undefined; label: string } {
  const query = useQuery(registryQuery(registryId));
  return { registry: query.data, label: query.data?.displayName ?? registryId };
}

/**
 * A banner for the whole registry when Reestr cannot use it: authentication refused, or the
 * registry unreachable. Sections below still show their own inline errors.
 */
export function RegistryBanner({ registry }: { registry: RegistrySummary | undefined }) {
  if (!registry) return null;
  const { state, message, hint } = registry.status;
  if (state !== "auth_failed" && state !== "unreachable") return null;
  const title =
    state === "auth_failed"
      ? `Reestr could not sign in to ${registry.displayName}`
      : `${registry.displayName} cannot be reached`;
  return (
    <div className={`banner banner-${state}`} role="alert">
      <p>
        <strong>{title}.</strong> {message ?? ""}
      </p>
      {state === "auth_failed" && (
        <p>
          Check the registry's credentials on the server (for example{" "}
          <code>REESTR_REGISTRY_{registry.id.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_TOKEN</code>), then use
          Resync on the <Link href="/">registries page</Link>.
        </p>
      )}
      {hint && <p>{hint}</p>}
    </div>
  );
}

/**
 * Page links (real hrefs, so each page is a shareable URL). `makeHref(page)` builds the URL of a page.
 */
export function Pagination({
  page,
  pageSize,
  total,
  makeHref,
  label,
}: {
  page: number;
  pageSize: number;
  total: number;
  makeHref: (page: number) => string;
  label: string;
}) {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  if (total === 0) return null;
  const first = (page - 1) * pageSize + 1;
  const last = Math.min(total, page * pageSize);
  const window: number[] = [];
  for (let p = Math.max(1, page - 2); p <= Math.min(pages, page + 2); p++) window.push(p);
  const link = (p: number, text: ReactNode, rel?: string, aria?: string) => (
    <Link href={makeHref(p)} rel={rel} aria-label={aria} className="page-link">
      {text}
    </Link>
  );
  return (
    <nav aria-label={label} className="pagination">
      <p className="muted">
        {formatCount(first)}–{formatCount(last)} of {formatCount(total)}
      </p>
      <ul>
        <li>
          {page > 1 ? (
            link(page - 1, "Previous", "prev")
          ) : (
            <span className="page-link disabled">Previous</span>
          )}
        </li>
        {window[0]! > 1 && <li>{link(1, "1", undefined, "Page 1")}</li>}
        {window[0]! > 2 && <li aria-hidden="true">…</li>}
        {window.map((p) => (
          <li key={p}>
            {p === page ? (
              <span className="page-link current" aria-current="page">
                {p}
              </span>
            ) : (
              link(p, String(p), undefined, `Page ${p}`)
            )}
          </li>
        ))}
        {window[window.length - 1]! < pages - 1 && <li aria-hidden="true">…</li>}
        {window[window.length - 1]! < pages && (
          <li>{link(pages, String(pages), undefined, `Page ${pages}`)}</li>
        )}
        <li>
          {page < pages ? link(page + 1, "Next", "next") : <span className="page-link disabled">Next</span>}
        </li>
      </ul>
    </nav>
  );
}

/** Reads a positive integer query parameter. */
export function intParam(search: URLSearchParams, name: string, fallback: number, max = 1_000_000): number {
  const raw = search.get(name);
  if (raw === null || !/^\d+$/.test(raw)) return fallback;
  return Math.min(max, Math.max(1, Number(raw)));
}

export function oneOf<T extends string>(value: string | null, allowed: readonly T[], fallback: T): T {
  return allowed.includes(value as T) ? (value as T) : fallback;
}
