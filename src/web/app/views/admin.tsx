/**
 * The administration area: `/admin` (what each page is for, with its latest figures), the
 * navigation the admin pages share, and the state they show to callers who are not
 * administrators (instead of an error).
 */
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { ApiError } from "../../api/client.ts";
import { sessionQuery } from "../account.tsx";
import { Loading, SectionError, TimeText } from "../components.tsx";
import { formatBytes, formatQuantity } from "../format.ts";
import { useTitle } from "../hooks.ts";
import { gcQuery, isNotAdmin, quotasQuery, retentionQuery, scrubQuery } from "../queries.ts";
import { type AdminPage, href, Link } from "../router.tsx";

const PAGES: { page: AdminPage | "quotas"; label: string; href: string }[] = [
  { page: "gc", label: "Garbage collection", href: href.gc() },
  { page: "scrub", label: "Integrity", href: href.scrub() },
  { page: "retention", label: "Retention", href: href.retention() },
  // The quota bars live on the storage page, next to the bytes they limit.
  { page: "quotas", label: "Quotas", href: href.storage() },
];

/** The admin pages' own navigation, under their heading. */
export function AdminNav({ current }: { current: AdminPage }) {
  return (
    <nav aria-label="Administration" className="admin-nav">
      <ul>
        <li>
          <Link href={href.admin()}>Overview</Link>
        </li>
        {PAGES.map((page) => (
          <li key={page.page}>
            <Link href={page.href} aria-current={page.page === current ? "page" : undefined}>
              {page.label}
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}

/**
 * An admin page's load failure: "needs an administrator" for 401/403 (with what to do about
 * it), "not on this server" for 404, the usual inline error otherwise.
 */
export function AdminError({ error, onRetry }: { error: unknown; onRetry: () => void }) {
  const session = useQuery(sessionQuery);
  if (!isNotAdmin(error)) return <SectionError error={error} onRetry={onRetry} />;
  const status = error instanceof ApiError ? error.status : 0;
  if (status === 404) {
    return (
      <div className="empty" role="status">
        <p>
          This server has no administration pages: they belong to <code>reestr serve</code>, whose own
          registry they maintain.
        </p>
      </div>
    );
  }
  const user = session.data?.user;
  return (
    <div className="empty needs-admin" role="status">
      <p>
        <strong>This page needs an administrator.</strong>{" "}
        {user
          ? `You are signed in as ${user}, who does not administer this registry.`
          : "Sign in (top of the page) as an administrator of this registry."}
      </p>
    </div>
  );
}

function OverviewCard({ title, link, children }: { title: string; link: string; children: ReactNode }) {
  return (
    <li className="card">
      <div className="card-header">
        <h2>
          <Link href={link}>{title}</Link>
        </h2>
      </div>
      {children}
    </li>
  );
}

export function AdminView() {
  useTitle("Administration");
  const gc = useQuery(gcQuery());
  const scrub = useQuery(scrubQuery());
  const retention = useQuery(retentionQuery());
  const quotas = useQuery(quotasQuery());
  const lastGc = gc.data?.runs.find((run) => !run.dryRun && run.status !== "running");
  const lastScrub = scrub.data?.last?.result;
  return (
    <>
      <h1 tabIndex={-1}>Administration</h1>
      <p className="lead">
        Storage maintenance of this registry: free space, check integrity, apply policies.
      </p>
      {gc.isPending && <Loading label="Loading…" />}
      {gc.isError && <AdminError error={gc.error} onRetry={() => gc.refetch()} />}
      {gc.data && (
        <ul className="cards">
          <OverviewCard title="Garbage collection" link={href.gc()}>
            <p>Removes blobs and manifests nothing refers to any more, and frees their bytes.</p>
            <p className="muted">
              {gc.data.running
                ? `Running: ${gc.data.running.phase ?? "starting"}`
                : lastGc
                  ? `Last run ${lastGc.status}, freed ${formatBytes(lastGc.removed?.bytesFreed ?? 0)}`
                  : "No run since the server started."}
              {lastGc && !gc.data.running && (
                <>
                  {" "}
                  (<TimeText iso={lastGc.startedAt} />)
                </>
              )}
            </p>
          </OverviewCard>
          <OverviewCard title="Integrity" link={href.scrub()}>
            <p>Checks every blob against its digest and every manifest's references.</p>
            <p className="muted">
              {scrub.data?.running
                ? "Running."
                : lastScrub
                  ? `Last scrub: ${formatQuantity(lastScrub.counts.corrupt, "corrupt blob")}, ${formatQuantity(lastScrub.counts.missing, "missing reference")}`
                  : "No scrub since the server started."}
              {lastScrub && !scrub.data?.running && (
                <>
                  {" "}
                  (<TimeText iso={lastScrub.finishedAt} />)
                </>
              )}
            </p>
          </OverviewCard>
          <OverviewCard title="Retention" link={href.retention()}>
            <p>Policies deleting old tags and manifests.</p>
            <p className="muted">
              {retention.data
                ? `${formatQuantity(retention.data.policies.length, "policy", "policies")}${retention.data.scheduled && retention.data.nextRun ? "; next run " : ""}`
                : ""}
              {retention.data?.scheduled && retention.data.nextRun && (
                <TimeText iso={retention.data.nextRun} />
              )}
            </p>
          </OverviewCard>
          <OverviewCard title="Quotas" link={href.storage()}>
            <p>Storage limits per repository glob, shown with their usage on the storage page.</p>
            <p className="muted">{quotas.data ? formatQuantity(quotas.data.quotas.length, "quota") : ""}</p>
          </OverviewCard>
        </ul>
      )}
    </>
  );
}
