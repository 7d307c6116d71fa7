/**
 * `/r/<id>/<name>`: a repository's summary, pull commands, README and its tags. The tags table
 * is virtualized (only the rows in view exist in the DOM) and loads its rows page by page from
 * the server as they scroll into view, so 10,000 tags cost a few hundred DOM nodes and requests
 * of 500 rows.
 */
import { useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { type KeyboardEvent, useEffect, useMemo, useRef, useState } from "react";
import { api, call, type TagQuery, type TagSummary } from "../../api/client.ts";
import { ensureSignedIn } from "../account.tsx";
import {
  CommandLine,
  ConfirmDialog,
  type ConfirmRequest,
  Empty,
  Loading,
  SectionError,
  TimeText,
  useToast,
  VulnerabilityBadges,
} from "../components.tsx";
import { formatBytes, formatCount, platformLabel, shortDigest } from "../format.ts";
import { useScrollRestore, useTitle } from "../hooks.ts";
import { Markdown } from "../markdown.tsx";
import { invalidateRegistry, repositoryQuery, tagsQuery } from "../queries.ts";
import { href, Link, useLocation } from "../router.tsx";
import { DebouncedInput, SelectParam } from "./repositories.tsx";
import { Breadcrumbs, oneOf, RegistryBanner, useRegistry } from "./shared.tsx";

const TAG_PAGE = 500;
const ROW_HEIGHT = 44;
const TAG_SORTS = ["name", "created", "size", "pulled"] as const;
const ORDERS = ["asc", "desc"] as const;

export function RepositoryView({ registryId, name }: { registryId: string; name: string }) {
  const { search } = useLocation();
  const { registry, label } = useRegistry(registryId);
  useTitle(name);
  const detail = useQuery(repositoryQuery(registryId, name));
  useScrollRestore(detail.isSuccess);
  const canDelete = Boolean(registry?.local && registry.status.capabilities.delete);

  const tsort = oneOf(search.get("tsort"), TAG_SORTS, "name");
  const tagQuery: TagQuery = {
    q: search.get("tq") || undefined,
    sort: tsort,
    order: oneOf(search.get("torder"), ORDERS, tsort === "name" ? "asc" : "desc"),
  };

  return (
    <>
      <Breadcrumbs
        items={[
          { label: "Registries", href: "/" },
          { label, href: href.repositories(registryId) },
          { label: name },
        ]}
      />
      <h1 tabIndex={-1} className="break">
        {name}
      </h1>
      <RegistryBanner registry={registry} />
      <section aria-labelledby="summary-heading" className="section">
        <h2 id="summary-heading">Summary</h2>
        {detail.isPending && <Loading label="Loading repository…" />}
        {detail.isError && <SectionError error={detail.error} onRetry={() => detail.refetch()} />}
        {detail.data && (
          <>
            <dl className="facts">
              <div>
                <dt>Tags</dt>
                <dd>{formatCount(detail.data.tagCount)}</dd>
              </div>
              <div>
                <dt>Size</dt>
                <dd>{formatBytes(detail.data.sizeBytes)}</dd>
              </div>
              <div>
                <dt>Updated</dt>
                <dd>
                  <TimeText iso={detail.data.updatedAt} />
                </dd>
              </div>
              <div>
                <dt>Namespace</dt>
                <dd>{detail.data.namespace ?? "—"}</dd>
              </div>
              {detail.data.pulls !== null && (
                <div>
                  <dt>Pulls</dt>
                  <dd>
                    {formatCount(detail.data.pulls)}, last <TimeText iso={detail.data.lastPulledAt} />
                  </dd>
                </div>
              )}
            </dl>
            <h3 className="small-heading">Pull</h3>
            <div className="commands">
              <CommandLine label="docker" command={detail.data.pullCommands.docker} />
              <CommandLine label="podman" command={detail.data.pullCommands.podman} />
              <CommandLine label="ctr" command={detail.data.pullCommands.ctr} />
            </div>
          </>
        )}
      </section>
      <section aria-labelledby="readme-heading" className="section">
        <h2 id="readme-heading">README</h2>
        {detail.data &&
          (detail.data.readme ? (
            <Markdown source={detail.data.readme} baseLevel={2} />
          ) : (
            <Empty>
              <p>
                No README. Reestr shows one from the <code>org.opencontainers.image.description</code>{" "}
                annotation or a README artifact attached to the image.
              </p>
            </Empty>
          ))}
      </section>
      <section aria-labelledby="tags-heading" className="section">
        <h2 id="tags-heading">Tags</h2>
        <search className="filters" aria-label="Filter tags">
          <DebouncedInput
            param="tq"
            label="Filter tags"
            placeholder="Tag contains…"
            value={tagQuery.q ?? ""}
          />
          <SelectParam
            param="tsort"
            label="Sort tags by"
            value={tsort}
            options={[
              ["name", "Name"],
              ["created", "Created"],
              ["size", "Size"],
              ["pulled", "Last pulled"],
            ]}
          />
          <SelectParam
            param="torder"
            label="Order"
            value={tagQuery.order ?? "asc"}
            options={[
              ["asc", "Ascending"],
              ["desc", "Descending"],
            ]}
          />
        </search>
        <TagsTable registryId={registryId} name={name} query={tagQuery} canDelete={canDelete} />
      </section>
    </>
  );
}

function TagsTable({
  registryId,
  name,
  query,
  canDelete,
}: {
  registryId: string;
  name: string;
  query: TagQuery;
  canDelete: boolean;
}) {
  const client = useQueryClient();
  const toast = useToast();
  const scrollRef = useRef<HTMLDivElement>(null);
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const first = useQuery(tagsQuery(registryId, name, { ...query, page: 1, pageSize: TAG_PAGE }));
  const total = first.data?.total ?? 0;

  const virtualizer = useVirtualizer({
    count: total,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8,
    // The sticky header row sits above the first body row inside the scroll container.
    scrollMargin: ROW_HEIGHT,
  });
  const rows = virtualizer.getVirtualItems();

  // Keyboard: one row is in the tab order (roving tabindex); arrows, Page Up/Down, Home and End
  // move between rows, scrolling the virtual list and focusing the row once it is rendered.
  const [active, setActive] = useState(0);
  const pendingFocus = useRef<number | null>(null);
  const tabbable = rows.some((row) => row.index === active) ? active : (rows[0]?.index ?? 0);
  useEffect(() => {
    const index = pendingFocus.current;
    if (index === null) return;
    const link = scrollRef.current?.querySelector<HTMLAnchorElement>(`tr[data-index="${index}"] a`);
    if (link) {
      link.focus({ preventScroll: true });
      pendingFocus.current = null;
    }
  });
  const onKeyDown = (event: KeyboardEvent<HTMLTableSectionElement>) => {
    const target = event.target as HTMLElement;
    const row = target.closest("tr[data-index]");
    if (!row || target.tagName !== "A") return;
    const index = Number(row.getAttribute("data-index"));
    const perPage = Math.max(
      1,
      Math.floor((scrollRef.current?.clientHeight ?? ROW_HEIGHT * 10) / ROW_HEIGHT) - 2,
    );
    const moves: Record<string, number> = {
      ArrowDown: index + 1,
      ArrowUp: index - 1,
      PageDown: index + perPage,
      PageUp: index - perPage,
      Home: 0,
      End: total - 1,
    };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = Math.min(total - 1, Math.max(0, moves[event.key]!));
    setActive(next);
    pendingFocus.current = next;
    virtualizer.scrollToIndex(next, { align: "auto" });
  };

  // The pages the visible rows fall into (page 1 is loaded above).
  const pagesInView = useMemo(() => {
    const pages = new Set<number>();
    for (const row of rows) pages.add(Math.floor(row.index / TAG_PAGE) + 1);
    pages.delete(1);
    return [...pages];
  }, [rows]);
  const more = useQueries({
    queries: pagesInView.map((page) => tagsQuery(registryId, name, { ...query, page, pageSize: TAG_PAGE })),
  });
  const rowAt = (index: number): TagSummary | undefined => {
    const page = Math.floor(index / TAG_PAGE) + 1;
    const data = page === 1 ? first.data : more[pagesInView.indexOf(page)]?.data;
    return data?.items[index % TAG_PAGE];
  };

  const askDelete = (tag: TagSummary) =>
    setConfirm({
      title: `Delete tag ${tag.tag}?`,
      body: (
        <>
          <p>
            The tag <strong>{tag.tag}</strong> of <strong>{name}</strong> is removed from Reestr's registry.
            The manifest <code>{shortDigest(tag.digest)}</code> stays until it is deleted or
            garbage-collected.
          </p>
          <p>Clients pulling this tag will get “not found”.</p>
        </>
      ),
      confirmLabel: "Delete tag",
      onConfirm: async () => {
        await ensureSignedIn(client);
        await call(
          api.DELETE("/api/registries/{id}/repositories/{name}/tags/{tag}", {
            params: { path: { id: registryId, name, tag: tag.tag } },
          }),
        );
        toast.show("success", `Deleted tag ${name}:${tag.tag}`);
        await invalidateRegistry(client, registryId);
      },
    });

  if (first.isPending) return <Loading label="Loading tags…" />;
  if (first.isError) return <SectionError error={first.error} onRetry={() => first.refetch()} />;
  if (total === 0) {
    return (
      <Empty>
        <p>{query.q ? "No tag matches this filter." : "This repository has no tags."}</p>
      </Empty>
    );
  }
  const firstRow = rows[0];
  const lastRow = rows[rows.length - 1];
  const padTop = firstRow ? firstRow.start - ROW_HEIGHT : 0;
  const padBottom = lastRow ? virtualizer.getTotalSize() - lastRow.end : 0;
  const failed = more.find((page) => page.isError);
  const columns = canDelete ? 8 : 7;

  return (
    <>
      <p className="result-count" role="status">
        {formatCount(total)} {total === 1 ? "tag" : "tags"}
      </p>
      {failed && <SectionError error={failed.error} onRetry={() => failed.refetch()} />}
      <section
        ref={scrollRef}
        className="virtual-scroll"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard
        tabIndex={0}
        aria-label={`Tags of ${name}, scrollable`}
      >
        <table
          className={`data-table vtable${canDelete ? " with-actions" : ""}`}
          aria-rowcount={total + 1}
          data-total={total}
        >
          <caption className="visually-hidden">
            Tags of {name}. Arrow keys, Page Up, Page Down, Home and End move between tags.
          </caption>
          <colgroup>
            <col className="col-tag" />
            <col className="col-digest" />
            <col className="col-size" />
            <col className="col-platforms" />
            <col className="col-created" />
            <col className="col-pulled" />
            <col className="col-vulns" />
            {canDelete && <col className="col-actions" />}
          </colgroup>
          <thead>
            <tr aria-rowindex={1}>
              <th scope="col">Tag</th>
              <th scope="col">Digest</th>
              <th scope="col" className="num">
                Size
              </th>
              <th scope="col">Platforms</th>
              <th scope="col">Created</th>
              <th scope="col">Last pulled</th>
              <th scope="col">Vulnerabilities</th>
              {canDelete && (
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody
            onKeyDown={onKeyDown}
            onFocus={(event) => {
              const index = (event.target as HTMLElement)
                .closest("tr[data-index]")
                ?.getAttribute("data-index");
              if (index) setActive(Number(index));
            }}
          >
            {padTop > 0 && (
              <tr className="spacer">
                <td colSpan={columns} style={{ height: padTop }} />
              </tr>
            )}
            {rows.map((row) => {
              const tag = rowAt(row.index);
              return (
                <tr key={row.key} aria-rowindex={row.index + 2} className="vrow" data-index={row.index}>
                  {tag ? (
                    <>
                      <th scope="row" className="cell-tag">
                        <Link
                          href={href.tag(registryId, name, tag.tag)}
                          tabIndex={row.index === tabbable ? 0 : -1}
                        >
                          {tag.tag}
                        </Link>
                      </th>
                      <td className="mono" title={tag.digest}>
                        {shortDigest(tag.digest)}
                      </td>
                      <td className="num">{formatBytes(tag.sizeBytes)}</td>
                      <td>{tag.platforms.length > 0 ? tag.platforms.map(platformLabel).join(", ") : "—"}</td>
                      <td>
                        <TimeText iso={tag.created} />
                      </td>
                      <td
                        className="cell-pulled"
                        title={tag.pulls === null ? undefined : `${formatCount(tag.pulls)} pulls`}
                      >
                        <TimeText iso={tag.lastPulledAt} />
                        {tag.pulls !== null && (
                          <span className="visually-hidden">, {formatCount(tag.pulls)} pulls</span>
                        )}
                      </td>
                      <td>
                        <VulnerabilityBadges counts={tag.vulnerabilities} />
                      </td>
                      {canDelete && (
                        <td>
                          <button
                            type="button"
                            className="button button-small button-danger-quiet"
                            onClick={() => askDelete(tag)}
                            tabIndex={row.index === tabbable ? 0 : -1}
                            aria-label={`Delete tag ${tag.tag}`}
                          >
                            Delete
                          </button>
                        </td>
                      )}
                    </>
                  ) : (
                    <td colSpan={columns} className="muted">
                      Loading…
                    </td>
                  )}
                </tr>
              );
            })}
            {padBottom > 0 && (
              <tr className="spacer">
                <td colSpan={columns} style={{ height: padBottom }} />
              </tr>
            )}
          </tbody>
        </table>
      </section>
      <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />
    </>
  );
}
