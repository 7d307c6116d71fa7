/**
 * `/admin/gc`: garbage collection of this registry (administrators). The settings, a dry run
 * listing what would go, a real run after a confirmation showing a fresh dry run's figures, the
 * phase of the run in progress (asked once a second until it ends) and the last runs.
 *
 * A run is started without waiting (202) and followed through GET /api/admin/gc: a collection
 * of a large store takes minutes, longer than a request should stay open.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api, call, type Schemas } from "../../api/client.ts";
import { ensureSignedIn } from "../account.tsx";
import {
  ConfirmDialog,
  type ConfirmRequest,
  Empty,
  Loading,
  SectionError,
  TimeText,
} from "../components.tsx";
import { formatBytes, formatCount, formatElapsed, formatQuantity } from "../format.ts";
import { useTitle } from "../hooks.ts";
import { gcQuery, invalidateRegistry } from "../queries.ts";
import { AdminError, AdminNav } from "./admin.tsx";

type Run = Schemas["GcRun"];
type Removed = NonNullable<Run["removed"]>;

/** Why a run was started here: to show it, to confirm a collection with its figures, or a collection. */
type Purpose = "dry-run" | "confirm" | "collect";

function kind(run: Run): string {
  return run.dryRun ? "Dry run" : "Collection";
}

/** "3 blobs (1.2 MiB), 1 empty repository": what a run removed, or would remove; zeros left out. */
function figures(removed: Removed): string {
  const parts = [
    removed.blobs > 0 && `${formatQuantity(removed.blobs, "blob")} (${formatBytes(removed.blobBytes)})`,
    removed.manifests > 0 && formatQuantity(removed.manifests, "manifest"),
    removed.links > 0 && formatQuantity(removed.links, "repository link"),
    removed.repositories > 0 &&
      formatQuantity(removed.repositories, "empty repository", "empty repositories"),
    removed.strayFiles > 0 &&
      `${formatQuantity(removed.strayFiles, "stray file")} (${formatBytes(removed.strayBytes)})`,
    removed.uploads > 0 && formatQuantity(removed.uploads, "expired upload"),
  ].filter((part) => part !== false);
  return parts.length > 0 ? parts.join(", ") : "nothing to remove";
}

function StatusBadge({ run }: { run: Run }) {
  if (run.status === "running") return <span className="badge badge-state-unknown">running</span>;
  if (run.status === "failed") return <span className="badge badge-delete">failed</span>;
  return <span className="badge badge-clean">succeeded</span>;
}

function Progress({ run }: { run: Run }) {
  return (
    <div className="loading run-progress" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      <span>
        {kind(run)} #{run.id} running since <TimeText iso={run.startedAt} />: {run.phase ?? "starting"}…
      </span>
    </div>
  );
}

function ItemTable({
  caption,
  head,
  rows,
}: {
  caption: string;
  head: string[];
  rows: { key: string; cells: (string | number)[] }[];
}) {
  if (rows.length === 0) return null;
  return (
    <div className="table-wrap gc-items">
      <table className="data-table">
        <caption>
          {caption} <span className="muted">({formatCount(rows.length)})</span>
        </caption>
        <thead>
          <tr>
            {head.map((text, i) => (
              <th key={text} scope="col" className={i > 0 && text === "Size" ? "num" : undefined}>
                {text}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.key}>
              {row.cells.map((cell, i) =>
                i === 0 ? (
                  <th key={head[i]} scope="row" className="mono break">
                    {cell}
                  </th>
                ) : (
                  <td
                    key={head[i]}
                    className={
                      typeof cell === "number" ? "num" : head[i] === "Digest" ? "mono break" : undefined
                    }
                  >
                    {typeof cell === "number" ? formatBytes(cell) : cell}
                  </td>
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A finished run: its figures and the lists of what went (or would go). */
function RunResult({ run }: { run: Run }) {
  const heading = `${kind(run)} #${run.id}`;
  return (
    <section aria-labelledby="gc-result-heading" className="section">
      <h2 id="gc-result-heading">{heading}</h2>
      {run.status === "running" && <Progress run={run} />}
      {run.status === "failed" && (
        <div className="inline-error-box" role="alert">
          <p>
            <strong>The run failed.</strong> {run.error}
          </p>
        </div>
      )}
      {run.status === "succeeded" && run.removed && (
        <>
          <p className="result-count" role="status">
            {run.dryRun ? "Would free" : "Freed"} {formatBytes(run.removed.bytesFreed)}:{" "}
            {figures(run.removed)}. Took {formatElapsed(run.durationMs)}.
          </p>
          {run.items?.truncated && (
            <p className="warning-box">
              Each list below shows its first 1,000 entries only; the figures above are whole.
            </p>
          )}
          {run.items && (
            <>
              <ItemTable
                caption={run.dryRun ? "Blobs that would be deleted" : "Blobs deleted"}
                head={["Digest", "Size"]}
                rows={run.items.blobs.map((blob) => ({ key: blob.digest, cells: [blob.digest, blob.size] }))}
              />
              <ItemTable
                caption={run.dryRun ? "Manifests that would be deleted" : "Manifests deleted"}
                head={["Repository", "Digest", "Size"]}
                rows={run.items.manifests.map((m) => ({
                  key: `${m.repository}@${m.digest}`,
                  cells: [m.repository, m.digest, m.size],
                }))}
              />
              <ItemTable
                caption={
                  run.dryRun ? "Empty repositories that would be removed" : "Empty repositories removed"
                }
                head={["Repository"]}
                rows={run.items.repositories.map((name) => ({ key: name, cells: [name] }))}
              />
              <ItemTable
                caption={run.dryRun ? "Stray files that would be deleted" : "Stray files deleted"}
                head={["Digest", "Size"]}
                rows={run.items.strayFiles.map((file) => ({
                  key: file.digest,
                  cells: [file.digest, file.size],
                }))}
              />
            </>
          )}
        </>
      )}
    </section>
  );
}

function History({ runs }: { runs: Run[] }) {
  if (runs.length === 0) {
    return (
      <Empty>
        <p>No run since the server started.</p>
      </Empty>
    );
  }
  const num = (removed: Removed | undefined, pick: (r: Removed) => number) =>
    removed ? formatCount(pick(removed)) : "—";
  return (
    <div className="table-wrap">
      <table className="data-table">
        <caption className="visually-hidden">Last garbage-collection runs, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Started</th>
            <th scope="col">Trigger</th>
            <th scope="col">Kind</th>
            <th scope="col" className="num">
              Duration
            </th>
            <th scope="col" className="num">
              Bytes freed
            </th>
            <th scope="col" className="num">
              Blobs
            </th>
            <th scope="col" className="num">
              Manifests
            </th>
            <th scope="col" className="num">
              Repositories
            </th>
            <th scope="col" className="num">
              Stray files
            </th>
            <th scope="col" className="num">
              Uploads
            </th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr key={run.id}>
              <th scope="row">
                <TimeText iso={run.startedAt} />
              </th>
              <td>{run.trigger === "schedule" ? "schedule" : "on request"}</td>
              <td>{run.dryRun ? "dry run" : "collection"}</td>
              <td className="num">{formatElapsed(run.durationMs)}</td>
              <td className="num">{run.removed ? formatBytes(run.removed.bytesFreed) : "—"}</td>
              <td className="num">{num(run.removed, (r) => r.blobs)}</td>
              <td className="num">{num(run.removed, (r) => r.manifests)}</td>
              <td className="num">{num(run.removed, (r) => r.repositories)}</td>
              <td className="num">{num(run.removed, (r) => r.strayFiles)}</td>
              <td className="num">{num(run.removed, (r) => r.uploads)}</td>
              <td>
                <StatusBadge run={run} />
                {run.status === "running" && ` ${run.phase ?? "starting"}`}
                {run.error && <span className="block small">{run.error}</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function GcView() {
  useTitle("Garbage collection");
  const client = useQueryClient();
  const status = useQuery(gcQuery());
  const [tracked, setTracked] = useState<{ id: number; purpose: Purpose; handled: boolean } | null>(null);
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const starter = useMutation({
    mutationFn: async ({ dryRun }: { dryRun: boolean; purpose: Purpose }) => {
      await ensureSignedIn(client, "Garbage collection needs a signed-in administrator");
      return call(api.POST("/api/admin/gc", { params: { query: { dryRun: dryRun ? "true" : "false" } } }));
    },
    onSuccess: (run, { purpose }) => setTracked({ id: run.id, purpose, handled: false }),
    // A 409 means a run is in progress already: reading the status again shows it.
    onSettled: () => client.invalidateQueries({ queryKey: gcQuery().queryKey }),
  });
  const running = status.data?.running ?? null;
  const trackedRun = tracked
    ? (status.data?.runs.find((run) => run.id === tracked.id) ??
      (starter.data?.id === tracked.id ? starter.data : undefined))
    : undefined;

  // Once the followed run ends: a dry run asked for by "Collect now" opens the confirmation with
  // its figures; a collection changes what every storage view shows.
  useEffect(() => {
    if (!tracked || tracked.handled || !trackedRun || trackedRun.status === "running") return;
    setTracked({ ...tracked, handled: true });
    if (tracked.purpose === "collect") void invalidateRegistry(client, "local");
    if (tracked.purpose === "confirm" && trackedRun.status === "succeeded" && trackedRun.removed) {
      const removed = trackedRun.removed;
      setConfirm({
        title: "Collect garbage now?",
        body: (
          <>
            <p>
              A dry run just found {figures(removed)}: <strong>{formatBytes(removed.bytesFreed)}</strong> to
              free.
            </p>
            <p>
              These are deleted for good. Nothing pushed or changed within the grace period (
              {trackedRun.gracePeriod}) is touched.
            </p>
          </>
        ),
        confirmLabel: "Collect now",
        busyLabel: "Starting…",
        onConfirm: async () => {
          await starter.mutateAsync({ dryRun: false, purpose: "collect" });
        },
      });
    }
  }, [tracked, trackedRun, client, starter.mutateAsync]);

  const busy =
    starter.isPending || running !== null || (tracked?.handled === false && tracked.purpose === "confirm");
  return (
    <>
      <h1 tabIndex={-1}>Garbage collection</h1>
      <AdminNav current="gc" />
      <p className="lead">
        Deletes what nothing refers to any more — blobs no manifest names, manifests without tags when asked,
        empty repositories, stray files and expired uploads — and frees their bytes.
      </p>
      {status.isPending && <Loading label="Loading garbage collection…" />}
      {status.isError && <AdminError error={status.error} onRetry={() => status.refetch()} />}
      {status.data && (
        <>
          <dl className="facts">
            <div>
              <dt>Grace period</dt>
              <dd>{status.data.config.gracePeriod}</dd>
            </div>
            <div>
              <dt>Untagged manifests</dt>
              <dd>{status.data.config.untagged ? "collected" : "kept"}</dd>
            </div>
            <div>
              <dt>Schedule</dt>
              <dd>
                {status.data.config.schedule ? <code>{status.data.config.schedule}</code> : "only when asked"}
              </dd>
            </div>
            {status.data.config.nextRun && (
              <div>
                <dt>Next run</dt>
                <dd>
                  <TimeText iso={status.data.config.nextRun} />
                </dd>
              </div>
            )}
          </dl>
          <div className="card-actions">
            <button
              type="button"
              className="button"
              disabled={busy}
              onClick={() => starter.mutate({ dryRun: true, purpose: "dry-run" })}
            >
              Dry run
            </button>
            <button
              type="button"
              className="button button-danger-quiet"
              disabled={busy}
              onClick={() => starter.mutate({ dryRun: true, purpose: "confirm" })}
            >
              Collect now…
            </button>
          </div>
          {running && running.id !== trackedRun?.id && <Progress run={running} />}
        </>
      )}
      {starter.isError && !confirm && <SectionError error={starter.error} onRetry={() => starter.reset()} />}
      {trackedRun && <RunResult run={trackedRun} />}
      {status.data && (
        <section aria-labelledby="gc-history-heading" className="section">
          <h2 id="gc-history-heading">Last runs</h2>
          <p className="result-count">
            Newest first, since the server started. A dry run's figures are what would have gone.
          </p>
          <History runs={status.data.runs} />
        </section>
      )}
      <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />
    </>
  );
}
