/** `/`: every configured registry as a card with its status, capability check, counts and storage. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call, type RegistrySummary } from "../../api/client.ts";
import { Empty, Loading, SectionError, StateBadge, TimeText, useToast } from "../components.tsx";
import { formatBytes, formatCount } from "../format.ts";
import { useScrollRestore, useTitle } from "../hooks.ts";
import { invalidateRegistry, registriesQuery } from "../queries.ts";
import { href, Link, useLocation } from "../router.tsx";
import { SelectParam } from "./repositories.tsx";
import { oneOf } from "./shared.tsx";

const AUTH_FILTERS = ["", "anonymous", "required"] as const;

const AUTH_LABELS: Record<string, string> = {
  none: "Anonymous",
  basic: "Basic",
  bearer: "Bearer token",
  unknown: "Unknown",
};

export function RegistriesView() {
  useTitle("Registries");
  const { search } = useLocation();
  const query = useQuery(registriesQuery());
  useScrollRestore(query.isSuccess);
  const auth = oneOf(search.get("auth"), AUTH_FILTERS, "");
  const problems = search.get("state") === "problems";
  const all = query.data?.registries ?? [];
  const registries = all.filter(
    (registry) =>
      (auth === "" ||
        (auth === "anonymous" && registry.status.authMode === "none") ||
        (auth === "required" &&
          (registry.status.authMode === "basic" || registry.status.authMode === "bearer"))) &&
      (!problems || registry.status.state !== "ok"),
  );
  return (
    <>
      <h1 tabIndex={-1}>Registries</h1>
      <p className="lead">
        Reestr's own registry and every configured remote registry, with what Reestr could check.
      </p>
      {query.isPending && <Loading label="Loading registries…" />}
      {query.isError && <SectionError error={query.error} onRetry={() => query.refetch()} />}
      {all.length > 0 && (
        <search className="filters" aria-label="Filter registries">
          <SelectParam
            param="auth"
            label="Authentication"
            value={auth}
            options={[
              ["", "Any"],
              ["anonymous", "Anonymous"],
              ["required", "Requires credentials"],
            ]}
          />
          <SelectParam
            param="state"
            label="Status"
            value={problems ? "problems" : ""}
            options={[
              ["", "Any"],
              ["problems", "With problems"],
            ]}
          />
        </search>
      )}
      {query.isSuccess && all.length === 0 && (
        <Empty>
          <p>No registries are configured.</p>
        </Empty>
      )}
      {all.length > 0 && registries.length === 0 && (
        <Empty>
          <p>
            No registry matches these filters. <Link href="/">Show all registries</Link>
          </p>
        </Empty>
      )}
      {registries.length > 0 && (
        <ul className="cards registry-cards">
          {registries.map((registry) => (
            <li key={registry.id}>
              <RegistryCard registry={registry} />
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

function RegistryCard({ registry }: { registry: RegistrySummary }) {
  const client = useQueryClient();
  const toast = useToast();
  const { status } = registry;
  const headingId = `registry-${registry.id}`;
  const resync = useMutation({
    mutationFn: () =>
      call(api.POST("/api/registries/{id}/resync", { params: { path: { id: registry.id } } })),
    onSuccess: async () => {
      await invalidateRegistry(client, registry.id);
      toast.show("success", `${registry.displayName}: resynced`);
    },
    onError: (error) => toast.show("error", `${registry.displayName}: resync failed: ${error.message}`),
  });
  const capabilities = [
    ["Catalog listing", status.capabilities.catalog],
    ["Referrers API", status.capabilities.referrers],
    ["Delete", status.capabilities.delete],
  ] as const;
  return (
    <article
      className={`card registry-card state-${status.state}`}
      aria-labelledby={headingId}
      data-registry={registry.id}
    >
      <header className="card-header">
        <h2 id={headingId}>
          <Link href={href.repositories(registry.id)}>{registry.displayName}</Link>
        </h2>
        <StateBadge state={status.state} />
        {registry.local && <span className="badge badge-local">This server</span>}
      </header>
      {registry.description && <p>{registry.description}</p>}
      <p className="mono small break">{registry.baseUrl}</p>
      {status.state !== "ok" && status.message && (
        <p className={`card-message message-${status.state}`}>{status.message}</p>
      )}
      <dl className="facts">
        <div>
          <dt>Authentication</dt>
          <dd>{AUTH_LABELS[status.authMode] ?? status.authMode}</dd>
        </div>
        <div>
          <dt>Last sync</dt>
          <dd>
            <TimeText iso={status.lastSync} />
          </dd>
        </div>
        <div>
          <dt>Repositories</dt>
          <dd>{formatCount(registry.counts.repositories)}</dd>
        </div>
        <div>
          <dt>Tags</dt>
          <dd>{formatCount(registry.counts.tags)}</dd>
        </div>
        <div>
          <dt>Storage</dt>
          <dd>{formatBytes(registry.storageBytes)}</dd>
        </div>
      </dl>
      <h3 className="small-heading">Capability check</h3>
      <ul className="capabilities">
        {capabilities.map(([label, ok]) => (
          <li key={label} className={ok ? "cap-yes" : "cap-no"}>
            <span aria-hidden="true">{ok ? "✓" : "✗"}</span> {label}
            <span className="visually-hidden">{ok ? ": available" : ": not available"}</span>
          </li>
        ))}
      </ul>
      {status.missingOperations.length > 0 && (
        <div className="warning-box">
          <p>
            <strong>Missing operations:</strong> {status.missingOperations.join(", ")}
          </p>
          {status.hint && <p>{status.hint}</p>}
        </div>
      )}
      {status.missingOperations.length === 0 && status.hint && <p className="muted">{status.hint}</p>}
      <div className="card-actions">
        <Link className="button" href={href.repositories(registry.id)}>
          Browse repositories
        </Link>
        <Link className="button button-quiet" href={href.storage(registry.id)}>
          Storage
        </Link>
        <button
          type="button"
          className="button button-quiet"
          onClick={() => resync.mutate()}
          disabled={resync.isPending}
          aria-label={`Resync ${registry.displayName}`}
        >
          {resync.isPending ? "Resyncing…" : "Resync"}
        </button>
      </div>
    </article>
  );
}
