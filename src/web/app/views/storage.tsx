/**
 * `/storage` and `/storage/<id>`: bytes per registry, and per repository of one registry,
 * largest first. The server computes and caches the totals (each blob counted once). The
 * overview also shows the server's quotas with their usage, to administrators (the only ones
 * the API answers).
 */
import { useQuery } from "@tanstack/react-query";
import { Empty, Loading, SectionError, TimeText } from "../components.tsx";
import { formatBytes, formatCount } from "../format.ts";
import { useScrollRestore, useTitle } from "../hooks.ts";
import { quotasQuery, registryStorageQuery, storageOverviewQuery } from "../queries.ts";
import { href, Link, useLocation } from "../router.tsx";
import { Breadcrumbs, intParam, Pagination, RegistryBanner, useRegistry } from "./shared.tsx";

const PAGE_SIZE = 50;

export function StorageView({ registryId }: { registryId: string | null }) {
  return registryId ? <RegistryStorage registryId={registryId} /> : <StorageOverview />;
}

function Share({ bytes, total, label }: { bytes: number | null; total: number; label: string }) {
  const share = bytes !== null && total > 0 ? bytes / total : 0;
  return (
    <meter className="share" min={0} max={1} value={share} aria-label={label}>
      {Math.round(share * 100)}%
    </meter>
  );
}

function StorageOverview() {
  useTitle("Storage");
  const query = useQuery(storageOverviewQuery());
  useScrollRestore(query.isSuccess);
  const registries = [...(query.data?.registries ?? [])].sort(
    (a, b) => (b.totalBytes ?? -1) - (a.totalBytes ?? -1) || a.displayName.localeCompare(b.displayName),
  );
  return (
    <>
      <h1 tabIndex={-1}>Storage</h1>
      <p className="lead">Bytes per registry, each blob counted once. Largest first.</p>
      {query.isPending && <Loading label="Computing storage…" />}
      {query.isError && <SectionError error={query.error} onRetry={() => query.refetch()} />}
      {query.data && (
        <>
          <dl className="facts">
            <div>
              <dt>Total</dt>
              <dd>{formatBytes(query.data.totalBytes)}</dd>
            </div>
            <div>
              <dt>Computed</dt>
              <dd>
                <TimeText iso={query.data.computedAt} />
              </dd>
            </div>
          </dl>
          {registries.length === 0 ? (
            <Empty>
              <p>No registries are configured.</p>
            </Empty>
          ) : (
            <div className="table-wrap">
              <table className="data-table storage-table">
                <caption className="visually-hidden">Storage per registry, largest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Registry</th>
                    <th scope="col" className="num" aria-sort="descending">
                      Bytes
                    </th>
                    <th scope="col">Share</th>
                  </tr>
                </thead>
                <tbody>
                  {registries.map((registry) => (
                    <tr key={registry.id}>
                      <th scope="row">
                        <Link href={href.storage(registry.id)}>{registry.displayName}</Link>
                      </th>
                      <td className="num">
                        {registry.totalBytes === null ? "unknown" : formatBytes(registry.totalBytes)}
                      </td>
                      <td>
                        <Share
                          bytes={registry.totalBytes}
                          total={query.data.totalBytes}
                          label={`${registry.displayName}: share of all storage`}
                        />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
      {/* Quotas are the local registry's: `reestr ui` (remote registries only) has none to ask for. */}
      {registries.some((registry) => registry.id === "local") && <Quotas />}
    </>
  );
}

/** Each quota as a usage bar; nothing at all for callers who may not read quotas, or without any. */
function Quotas() {
  const query = useQuery(quotasQuery());
  const quotas = query.data?.quotas ?? [];
  if (quotas.length === 0) return null;
  return (
    <section className="quotas" aria-labelledby="quotas-heading">
      <h2 id="quotas-heading">Quotas</h2>
      <p className="lead">Bytes each quota's repositories hold together, each blob counted once.</p>
      <div className="table-wrap">
        <table className="data-table storage-table">
          <caption className="visually-hidden">Quotas and their usage</caption>
          <thead>
            <tr>
              <th scope="col">Repositories</th>
              <th scope="col" className="num">
                Used
              </th>
              <th scope="col" className="num">
                Limit
              </th>
              <th scope="col">Usage</th>
            </tr>
          </thead>
          <tbody>
            {quotas.map((quota) => (
              <tr key={quota.repositories}>
                <th scope="row">
                  <code>{quota.repositories}</code>
                </th>
                <td className="num">{formatBytes(quota.used)}</td>
                <td className="num">{formatBytes(quota.limit)}</td>
                <td>
                  <meter
                    className="share"
                    min={0}
                    max={Math.max(quota.limit, 1)}
                    high={quota.limit * 0.9}
                    optimum={0}
                    value={Math.min(quota.used, quota.limit)}
                    aria-label={`${quota.repositories}: ${quota.percent}% of the quota used`}
                  >
                    {quota.percent}%
                  </meter>{" "}
                  {quota.percent}%
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function RegistryStorage({ registryId }: { registryId: string }) {
  const { search } = useLocation();
  const { registry, label } = useRegistry(registryId);
  useTitle(`${label}: storage`);
  const page = intParam(search, "page", 1);
  const query = useQuery(registryStorageQuery(registryId, page, PAGE_SIZE));
  useScrollRestore(query.isSuccess);
  const data = query.data;
  return (
    <>
      <Breadcrumbs items={[{ label: "Storage", href: "/storage" }, { label }]} />
      <h1 tabIndex={-1}>Storage of {label}</h1>
      <RegistryBanner registry={registry} />
      {query.isPending && <Loading label="Computing storage…" />}
      {query.isError && <SectionError error={query.error} onRetry={() => query.refetch()} />}
      {data && (
        <>
          <dl className="facts">
            <div>
              <dt>Total</dt>
              <dd>{formatBytes(data.totalBytes)}</dd>
            </div>
            <div>
              <dt>Repositories</dt>
              <dd>{formatCount(data.total)}</dd>
            </div>
            <div>
              <dt>Computed</dt>
              <dd>
                <TimeText iso={data.computedAt} />
              </dd>
            </div>
          </dl>
          {data.repositories.length === 0 ? (
            <Empty>
              <p>This registry holds no repositories.</p>
            </Empty>
          ) : (
            <>
              <div className="table-wrap">
                <table className="data-table storage-table">
                  <caption className="visually-hidden">Storage per repository, largest first</caption>
                  <thead>
                    <tr>
                      <th scope="col">Repository</th>
                      <th scope="col" className="num" aria-sort="descending">
                        Bytes
                      </th>
                      <th scope="col" className="num">
                        Shared with others
                      </th>
                      <th scope="col" className="num">
                        Tags
                      </th>
                      <th scope="col">Share</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.repositories.map((repo) => (
                      <tr key={repo.name}>
                        <th scope="row">
                          <Link href={href.repository(registryId, repo.name)}>{repo.name}</Link>
                        </th>
                        <td className="num">{formatBytes(repo.bytes)}</td>
                        <td className="num">{formatBytes(repo.sharedBytes)}</td>
                        <td className="num">{formatCount(repo.tagCount)}</td>
                        <td>
                          <Share
                            bytes={repo.bytes}
                            total={data.totalBytes}
                            label={`${repo.name}: share of the registry`}
                          />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pagination
                page={data.page}
                pageSize={data.pageSize}
                total={data.total}
                makeHref={(p) => href.storage(registryId) + (p > 1 ? `?page=${p}` : "")}
                label="Storage pages"
              />
            </>
          )}
        </>
      )}
    </>
  );
}
