/**
 * `/r/<id>`: repositories of one registry. Search, filters, sort, page and layout all live in the
 * query string (q, ns, updated, signed, sort, order, page, size, view); the server does the
 * searching, sorting and paging.
 */
import { useQuery } from "@tanstack/react-query";
import { useEffect, useId, useState } from "react";
import type { RepositoryQuery, RepositorySummary } from "../../api/client.ts";
import { Empty, Loading, SectionError, TimeText, useDebounced } from "../components.tsx";
import { formatBytes, formatCount } from "../format.ts";
import { useScrollRestore, useTitle } from "../hooks.ts";
import { repositoriesQuery } from "../queries.ts";
import { href, Link, updateQuery, useLocation } from "../router.tsx";
import { Breadcrumbs, intParam, oneOf, Pagination, RegistryBanner, useRegistry } from "./shared.tsx";

const SORTS = ["name", "size", "updated", "pulled"] as const;
const ORDERS = ["asc", "desc"] as const;
const UPDATED = ["", "24h", "7d", "30d", "90d"] as const;
const SIGNED = ["", "true", "false"] as const;
const PAGE_SIZES = ["25", "50", "100"] as const;

export function RepositoriesView({ registryId }: { registryId: string }) {
  const { search } = useLocation();
  const { registry, label } = useRegistry(registryId);
  useTitle(`${label}: repositories`);

  const sort = oneOf(search.get("sort"), SORTS, "name");
  const params: RepositoryQuery = {
    q: search.get("q") || undefined,
    namespace: search.get("ns") || undefined,
    updatedWithin: oneOf(search.get("updated"), UPDATED, "") || undefined,
    signed: (oneOf(search.get("signed"), SIGNED, "") || undefined) as RepositoryQuery["signed"],
    sort,
    order: oneOf(search.get("order"), ORDERS, sort === "name" ? "asc" : "desc"),
    page: intParam(search, "page", 1),
    pageSize: Number(oneOf(search.get("size"), PAGE_SIZES, "50")),
  };
  const view = search.get("view") === "grid" ? "grid" : "table";
  const query = useQuery(repositoriesQuery(registryId, params));
  useScrollRestore(query.isSuccess);
  const filtered = Boolean(params.q || params.namespace || params.updatedWithin || params.signed);

  const pageHref = (page: number) => {
    const next = new URLSearchParams(search);
    if (page === 1) next.delete("page");
    else next.set("page", String(page));
    const text = next.toString();
    return href.repositories(registryId) + (text ? `?${text}` : "");
  };

  return (
    <>
      <Breadcrumbs items={[{ label: "Registries", href: "/" }, { label }]} />
      <h1 tabIndex={-1}>{label}</h1>
      <RegistryBanner registry={registry} />
      <section aria-labelledby="repos-heading">
        <h2 id="repos-heading" className="visually-hidden">
          Repositories
        </h2>
        <search className="filters" aria-label="Filter repositories">
          <DebouncedInput
            param="q"
            label="Search repositories"
            placeholder="Name contains…"
            value={params.q ?? ""}
          />
          <DebouncedInput
            param="ns"
            label="Namespace"
            placeholder="e.g. team"
            value={params.namespace ?? ""}
          />
          <SelectParam
            param="updated"
            label="Updated"
            value={params.updatedWithin ?? ""}
            options={[
              ["", "Any time"],
              ["24h", "Last 24 hours"],
              ["7d", "Last 7 days"],
              ["30d", "Last 30 days"],
              ["90d", "Last 90 days"],
            ]}
          />
          <SelectParam
            param="signed"
            label="Signature"
            value={params.signed ?? ""}
            options={[
              ["", "Any"],
              ["true", "Signed"],
              ["false", "Not signed"],
            ]}
          />
          <SelectParam
            param="sort"
            label="Sort by"
            value={sort}
            options={[
              ["name", "Name"],
              ["size", "Size"],
              ["updated", "Last update"],
              ["pulled", "Last pulled"],
            ]}
          />
          <SelectParam
            param="order"
            label="Order"
            value={params.order ?? "asc"}
            options={[
              ["asc", "Ascending"],
              ["desc", "Descending"],
            ]}
          />
          <SelectParam
            param="size"
            label="Per page"
            value={String(params.pageSize)}
            options={PAGE_SIZES.map((size) => [size, size])}
          />
          <fieldset className="toggle">
            <legend>Layout</legend>
            <div className="toggle-buttons">
              <button
                type="button"
                className="button button-small"
                aria-pressed={view === "table"}
                onClick={() => updateQuery({ view: undefined }, { replace: true })}
              >
                Table
              </button>
              <button
                type="button"
                className="button button-small"
                aria-pressed={view === "grid"}
                onClick={() => updateQuery({ view: "grid" }, { replace: true })}
              >
                Grid
              </button>
            </div>
          </fieldset>
        </search>
        <div aria-busy={query.isFetching} className="results">
          {query.isPending && <Loading label="Loading repositories…" />}
          {query.isError && <SectionError error={query.error} onRetry={() => query.refetch()} />}
          {query.isSuccess && query.data.items.length === 0 && (
            <Empty>
              {filtered ? (
                <p>
                  No repository matches these filters.{" "}
                  <Link href={href.repositories(registryId)}>Clear the filters</Link>
                </p>
              ) : (
                <p>This registry holds no repositories yet.</p>
              )}
            </Empty>
          )}
          {query.data && query.data.items.length > 0 && (
            <>
              <p className="result-count" role="status">
                {formatCount(query.data.total)} {query.data.total === 1 ? "repository" : "repositories"}
                {filtered ? (query.data.total === 1 ? " matches" : " match") : ""}
              </p>
              {view === "table" ? (
                <RepositoryTable
                  registryId={registryId}
                  items={query.data.items}
                  sort={sort}
                  order={params.order!}
                />
              ) : (
                <RepositoryGrid registryId={registryId} items={query.data.items} />
              )}
              <Pagination
                page={query.data.page}
                pageSize={query.data.pageSize}
                total={query.data.total}
                makeHref={pageHref}
                label="Repository pages"
              />
            </>
          )}
        </div>
      </section>
    </>
  );
}

function SignedText({ signed }: { signed: boolean | null }) {
  if (signed === null) return <span className="muted">unknown</span>;
  return signed ? (
    <span className="badge badge-signed">signed</span>
  ) : (
    <span className="muted">not signed</span>
  );
}

function RepositoryTable({
  registryId,
  items,
  sort,
  order,
}: {
  registryId: string;
  items: RepositorySummary[];
  sort: string;
  order: string;
}) {
  const ariaSort = (column: string) =>
    sort === column ? (order === "asc" ? "ascending" : "descending") : undefined;
  return (
    <div className="table-wrap">
      <table className="data-table repositories-table">
        <caption className="visually-hidden">Repositories</caption>
        <thead>
          <tr>
            <th scope="col" aria-sort={ariaSort("name")}>
              Name
            </th>
            <th scope="col" className="hide-narrow">
              Namespace
            </th>
            <th scope="col" className="num">
              Tags
            </th>
            <th scope="col" className="num" aria-sort={ariaSort("size")}>
              Size
            </th>
            <th scope="col" aria-sort={ariaSort("updated")}>
              Updated
            </th>
            <th scope="col" className="num hide-narrow">
              Pulls
            </th>
            <th scope="col" aria-sort={ariaSort("pulled")}>
              Last pulled
            </th>
            <th scope="col" className="hide-narrow">
              Signature
            </th>
          </tr>
        </thead>
        <tbody>
          {items.map((repo) => (
            <tr key={repo.name}>
              <th scope="row">
                <Link href={href.repository(registryId, repo.name)}>{repo.name}</Link>
              </th>
              <td className="hide-narrow">{repo.namespace ?? <span className="muted">—</span>}</td>
              <td className="num">{formatCount(repo.tagCount)}</td>
              <td className="num">{formatBytes(repo.sizeBytes)}</td>
              <td>
                <TimeText iso={repo.updatedAt} />
              </td>
              <td className="num hide-narrow">{formatCount(repo.pulls)}</td>
              <td>
                <TimeText iso={repo.lastPulledAt} />
              </td>
              <td className="hide-narrow">
                <SignedText signed={repo.signed} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function RepositoryGrid({ registryId, items }: { registryId: string; items: RepositorySummary[] }) {
  return (
    <ul className="cards repo-grid">
      {items.map((repo) => (
        <li key={repo.name} className="card repo-card">
          <h3>
            <Link href={href.repository(registryId, repo.name)}>{repo.name}</Link>
          </h3>
          <dl className="facts compact">
            <div>
              <dt>Tags</dt>
              <dd>{formatCount(repo.tagCount)}</dd>
            </div>
            <div>
              <dt>Size</dt>
              <dd>{formatBytes(repo.sizeBytes)}</dd>
            </div>
            <div>
              <dt>Updated</dt>
              <dd>
                <TimeText iso={repo.updatedAt} />
              </dd>
            </div>
            <div>
              <dt>Last pulled</dt>
              <dd>
                <TimeText iso={repo.lastPulledAt} />
              </dd>
            </div>
            <div>
              <dt>Signature</dt>
              <dd>
                <SignedText signed={repo.signed} />
              </dd>
            </div>
          </dl>
        </li>
      ))}
    </ul>
  );
}

/**
 * A text input bound to a query parameter: typing updates the URL after a pause (replacing the
 * history entry), Enter applies at once; going back in history puts the old text back.
 */
export function DebouncedInput({
  param,
  label,
  placeholder,
  value,
  resetPage = true,
}: {
  param: string;
  label: string;
  placeholder?: string;
  value: string;
  resetPage?: boolean;
}) {
  const id = useId();
  const [text, setText] = useState(value);
  const settled = useDebounced(text, 300);
  useEffect(() => setText(value), [value]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: only a settled edit writes the URL
  useEffect(() => {
    if (settled.trim() !== value) apply(settled);
  }, [settled]);
  const apply = (next: string) => {
    const trimmed = next.trim();
    if (trimmed === value) return;
    updateQuery(
      { [param]: trimmed || undefined, ...(resetPage ? { page: undefined } : {}) },
      { replace: true },
    );
  };
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="search"
        value={text}
        placeholder={placeholder}
        autoComplete="off"
        spellCheck={false}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={(event) => {
          if (event.key === "Enter") apply(text);
        }}
      />
    </div>
  );
}

export function SelectParam({
  param,
  label,
  value,
  options,
}: {
  param: string;
  label: string;
  value: string;
  options: readonly (readonly [string, string])[];
}) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select
        id={id}
        value={value}
        onChange={(event) => updateQuery({ [param]: event.target.value || undefined, page: undefined })}
      >
        {options.map(([optionValue, text]) => (
          <option key={optionValue} value={optionValue}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}
