/**
 * `/admin/retention`: the server's retention policies (administrators), a dry run showing per
 * repository which tags go, which stay and why, and a real run after a confirmation.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
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
import { formatCount, shortDigest } from "../format.ts";
import { useTitle } from "../hooks.ts";
import { invalidateRegistry, retentionQuery } from "../queries.ts";
import { AdminError, AdminNav } from "./admin.tsx";

type Policy = Schemas["RetentionStatus"]["policies"][number];
type Result = Schemas["RetentionResult"];

/** A policy's rules in a line: "keep the last 5 (semver), pushed within 7d; protect ^latest$". */
function rules(policy: Policy): string {
  const parts: string[] = [];
  if (policy.keepLast !== null) {
    parts.push(`keep the last ${policy.keepLast}${policy.sortBy === "semver" ? " versions" : ""}`);
  }
  if (policy.keepPushedWithin) parts.push(`pushed within ${policy.keepPushedWithin}`);
  if (policy.keepPulledWithin) parts.push(`pulled within ${policy.keepPulledWithin}`);
  if (policy.keepTags.length > 0) parts.push(`keep ${policy.keepTags.join(", ")}`);
  if (policy.deleteTags.length > 0) parts.push(`deletes only ${policy.deleteTags.join(", ")}`);
  if (policy.protectedTags.length > 0) parts.push(`protect ${policy.protectedTags.join(", ")}`);
  if (policy.deleteUntaggedAfter) parts.push(`untagged after ${policy.deleteUntaggedAfter}`);
  return parts.length > 0 ? parts.join("; ") : "no rules (leaves its repositories alone)";
}

function Summary({ result }: { result: Result }) {
  const s = result.summary;
  const verb = result.dryRun ? "to delete" : "deleted";
  return (
    <p className="result-count" role="status">
      {result.dryRun ? "Dry run" : "Run"}: {formatCount(s.repositories)} repositories,{" "}
      {formatCount(s.tagsKept)} tags kept, {formatCount(s.tagsDeleted)} tags {verb},{" "}
      {formatCount(s.manifestsDeleted)} manifests {verb}
      {s.skipped > 0 ? `, ${formatCount(s.skipped)} skipped` : ""}
      {s.failed > 0 ? `, ${formatCount(s.failed)} failed` : ""}
    </p>
  );
}

function PlanTable({ plan, dryRun }: { plan: Result["repositories"][number]; dryRun: boolean }) {
  const rows = [
    ...plan.tags.map((t) => ({ key: `t:${t.tag}`, name: t.tag, mono: false, ...t })),
    ...plan.manifests.map((m) => ({ key: `m:${m.digest}`, name: shortDigest(m.digest), mono: true, ...m })),
  ];
  return (
    <div className="table-wrap">
      <table className="data-table">
        <caption>
          {plan.repository} <span className="muted">(policy {plan.policy})</span>
        </caption>
        <thead>
          <tr>
            <th scope="col">Tag or manifest</th>
            <th scope="col">Action</th>
            <th scope="col">Reason</th>
            {!dryRun && <th scope="col">Outcome</th>}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.key}>
              <th scope="row" className={row.mono ? "mono" : undefined} title={row.digest}>
                {row.name}
              </th>
              <td>
                <span className={row.action === "delete" ? "badge badge-delete" : "badge"}>{row.action}</span>
              </td>
              <td>{row.reason}</td>
              {!dryRun && <td>{row.outcome ? `${row.outcome}${row.error ? `: ${row.error}` : ""}` : "—"}</td>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function RetentionView() {
  useTitle("Retention");
  const client = useQueryClient();
  const status = useQuery(retentionQuery());
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const runner = useMutation({
    mutationFn: async (dryRun: boolean) => {
      await ensureSignedIn(client);
      return call(
        api.POST("/api/admin/retention", { params: { query: { dryRun: dryRun ? "true" : "false" } } }),
      );
    },
    onSuccess: async (result) => {
      await client.invalidateQueries({ queryKey: retentionQuery().queryKey });
      if (!result.dryRun) await invalidateRegistry(client, "local");
    },
  });
  const result = runner.data;

  return (
    <>
      <h1 tabIndex={-1}>Retention</h1>
      <AdminNav current="retention" />
      <p className="lead">
        Policies that delete tags and manifests of this registry. A dry run shows, per repository, what goes,
        what stays and why; garbage collection then frees the bytes.
      </p>
      {status.isPending && <Loading label="Loading retention policies…" />}
      {status.isError && <AdminError error={status.error} onRetry={() => status.refetch()} />}
      {status.data && (
        <>
          <dl className="facts">
            <div>
              <dt>Schedule</dt>
              <dd>{status.data.scheduled ? <code>{status.data.schedule}</code> : "not scheduled"} (UTC)</dd>
            </div>
            <div>
              <dt>Next run</dt>
              <dd>
                <TimeText iso={status.data.nextRun} />
              </dd>
            </div>
            <div>
              <dt>Last run</dt>
              <dd>
                {status.data.lastRun ? (
                  <>
                    <TimeText iso={status.data.lastRun.startedAt} />
                    {status.data.lastRun.dryRun ? " (dry run)" : ""}
                  </>
                ) : (
                  "never"
                )}
              </dd>
            </div>
          </dl>
          {status.data.policies.length === 0 ? (
            <Empty>
              <p>
                No retention policies. Add them under <code>retention.policies</code> in the server's
                configuration.
              </p>
            </Empty>
          ) : (
            <div className="table-wrap">
              <table className="data-table">
                <caption className="visually-hidden">Retention policies, first match wins</caption>
                <thead>
                  <tr>
                    <th scope="col">Policy</th>
                    <th scope="col">Repositories</th>
                    <th scope="col">Rules</th>
                    <th scope="col">Schedule</th>
                  </tr>
                </thead>
                <tbody>
                  {status.data.policies.map((policy) => (
                    <tr key={policy.name}>
                      <th scope="row">{policy.name}</th>
                      <td className="mono">{policy.repositories.join(", ")}</td>
                      <td>{rules(policy)}</td>
                      <td className="mono">{policy.schedule ?? status.data.schedule}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <div className="card-actions">
            <button
              type="button"
              className="button"
              disabled={runner.isPending}
              onClick={() => runner.mutate(true)}
            >
              {runner.isPending ? "Working…" : "Dry run"}
            </button>
            <button
              type="button"
              className="button button-danger-quiet"
              disabled={runner.isPending || !status.data.deleteEnabled || status.data.policies.length === 0}
              title={status.data.deleteEnabled ? undefined : "deletion is disabled on this registry"}
              onClick={() =>
                setConfirm({
                  title: "Run retention now?",
                  body: <p>Every tag and manifest the policies do not keep is deleted from this registry.</p>,
                  confirmLabel: "Delete what the policies do not keep",
                  onConfirm: async () => {
                    await runner.mutateAsync(false);
                  },
                })
              }
            >
              Run now
            </button>
          </div>
        </>
      )}
      {runner.isError && <SectionError error={runner.error} onRetry={() => runner.reset()} />}
      {result && (
        <section aria-labelledby="plan-heading" className="section">
          <h2 id="plan-heading">{result.dryRun ? "Dry run" : "Run"}</h2>
          <Summary result={result} />
          {result.repositories.length === 0 ? (
            <Empty>
              <p>No repository is governed by a policy.</p>
            </Empty>
          ) : (
            result.repositories.map((plan) => (
              <PlanTable key={plan.repository} plan={plan} dryRun={result.dryRun} />
            ))
          )}
        </section>
      )}
      <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />
    </>
  );
}
