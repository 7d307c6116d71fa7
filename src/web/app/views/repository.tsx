/**
 * `/r/<id>/<name>`: a repository's summary, pull commands, README and its tags. The tags table
 * is virtualized (only the rows in view exist in the DOM) and loads its rows page by page from
 * the server as they scroll into view, so 10,000 tags cost a few hundred DOM nodes and requests
 * of 500 rows.
 */
import { useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import {
  type CSSProperties,
  type KeyboardEvent,
  type RefObject,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
} from "react";
import { api, call, type TagQuery, type TagSummary } from "../../api/client.ts";
import { ensureSignedIn } from "../account.tsx";
import {
  CommandLine,
  ConfirmDialog,
  type ConfirmRequest,
  Empty,
  HelpTip,
  Loading,
  SectionError,
  TimeText,
  useToast,
  VulnerabilityBadges,
} from "../components.tsx";
import { formatBytes, formatCount, platformLabel, SIZE_HELP, shortDigest } from "../format.ts";
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
                <dt>
                  Size <HelpTip label="the repository size">{SIZE_HELP.repository}</HelpTip>
                </dt>
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
          ) : detail.data.description ? (
            // A label is a line of text, not Markdown: shown as written (line breaks kept).
            <>
              <p className="plain-description">{detail.data.description}</p>
              <p className="muted small">
                From the image's <code>org.opencontainers.image.description</code> label.
              </p>
            </>
          ) : (
            <Empty>
              <p>
                No README. Reestr shows one from the <code>org.opencontainers.image.description</code>{" "}
                annotation or a README artifact attached to the image, else the image's description label.
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

/** Tag deletes in flight at once for "Delete selected". */
const DELETE_CONCURRENCY = 4;
/** Tags named in the bulk-delete confirmation; the rest are counted. */
const CONFIRM_LIST = 10;

/**
 * The widest content of the cells marked `data-fit` (their first child, plus the cell's padding),
 * by column. Columns whose content varies (digests, platform lists, relative times, severity
 * badges) are sized to it, so they never clip while the tag column has room; widths only grow,
 * so scrolling never makes the columns jump back and forth.
 */
function useFittedColumns(table: RefObject<HTMLTableElement | null>) {
  const [widths, setWidths] = useState<Record<string, number>>({});
  useLayoutEffect(() => {
    const cells = table.current?.querySelectorAll<HTMLElement>("[data-fit]");
    if (!cells) return;
    const needed: Record<string, number> = {};
    for (const cell of cells) {
      const content = cell.firstElementChild;
      if (!content) continue;
      const style = getComputedStyle(cell);
      const width =
        content.getBoundingClientRect().width +
        Number.parseFloat(style.paddingLeft) +
        Number.parseFloat(style.paddingRight) +
        2;
      const key = cell.dataset.fit!;
      needed[key] = Math.max(needed[key] ?? 0, Math.ceil(width));
    }
    if (Object.entries(needed).some(([key, width]) => width > (widths[key] ?? 0))) {
      setWidths((old) => {
        const next = { ...old };
        for (const [key, width] of Object.entries(needed)) next[key] = Math.max(old[key] ?? 0, width);
        return next;
      });
    }
  });
  const style: Record<string, string> = {};
  for (const [key, width] of Object.entries(widths)) style[`--fit-${key}`] = `${width}px`;
  return style as CSSProperties;
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
  const tableRef = useRef<HTMLTableElement>(null);
  const fitted = useFittedColumns(tableRef);
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const first = useQuery(tagsQuery(registryId, name, { ...query, page: 1, pageSize: TAG_PAGE }));
  const total = first.data?.total ?? 0;

  // Another filter or order shows other rows: a selection of rows out of sight is a trap.
  const queryKey = JSON.stringify(query);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new query (its key) is the trigger
  useEffect(() => setSelected(new Set()), [queryKey]);

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

  const deleteTag = (tag: string) =>
    call(
      api.DELETE("/api/registries/{id}/repositories/{name}/tags/{tag}", {
        params: { path: { id: registryId, name, tag } },
      }),
    );

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
        await deleteTag(tag.tag);
        toast.show("success", `Deleted tag ${name}:${tag.tag}`);
        setSelected((old) => without(old, [tag.tag]));
        await invalidateRegistry(client, registryId);
      },
    });

  const askDeleteSelected = () => {
    const tags = [...selected].sort();
    const count = `${tags.length} ${tags.length === 1 ? "tag" : "tags"}`;
    setConfirm({
      title: `Delete ${count}?`,
      body: (
        <>
          <p>
            These tags of <strong>{name}</strong> are removed from Reestr's registry; their manifests stay
            until they are deleted or garbage-collected:
          </p>
          <ul className="plain-list mono small">
            {tags.slice(0, CONFIRM_LIST).map((tag) => (
              <li key={tag} className="break">
                {tag}
              </li>
            ))}
          </ul>
          {tags.length > CONFIRM_LIST && <p>…and {tags.length - CONFIRM_LIST} more.</p>}
          <p>Clients pulling these tags will get “not found”.</p>
        </>
      ),
      confirmLabel: `Delete ${count}`,
      onConfirm: async () => {
        await ensureSignedIn(client);
        const failures: string[] = [];
        const deleted: string[] = [];
        let next = 0;
        const worker = async () => {
          while (next < tags.length) {
            const tag = tags[next++]!;
            try {
              await deleteTag(tag);
              deleted.push(tag);
            } catch (error) {
              failures.push(`${tag}: ${error instanceof Error ? error.message : String(error)}`);
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, tags.length) }, worker));
        setSelected((old) => without(old, deleted));
        if (deleted.length > 0) {
          toast.show(
            "success",
            `Deleted ${deleted.length} ${deleted.length === 1 ? "tag" : "tags"} of ${name}`,
          );
          await invalidateRegistry(client, registryId);
        }
        if (failures.length > 0) {
          throw new Error(
            `${failures.length} of ${tags.length} could not be deleted (${failures.slice(0, 3).join("; ")}${failures.length > 3 ? "; …" : ""})`,
          );
        }
      },
    });
  };

  const toggle = (tag: string, on: boolean) =>
    setSelected((old) => (on ? new Set([...old, tag]) : without(old, [tag])));

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
  const columns = canDelete ? 9 : 7;
  // "Select all" only when every matching tag is loaded: selecting rows never seen is a trap.
  const everyTag = first.data.items.length === total ? first.data.items.map((t) => t.tag) : null;
  const allSelected = everyTag?.every((tag) => selected.has(tag)) ?? false;

  return (
    <>
      <div className="tags-toolbar">
        <p className="result-count" role="status">
          {formatCount(total)} {total === 1 ? "tag" : "tags"}
          {canDelete && selected.size > 0 && `, ${formatCount(selected.size)} selected`}
        </p>
        {canDelete && (
          <div className="bulk-actions">
            {selected.size > 0 && (
              <button type="button" className="button button-small" onClick={() => setSelected(new Set())}>
                Clear selection
              </button>
            )}
            <button
              type="button"
              className="button button-small button-danger-quiet"
              disabled={selected.size === 0}
              onClick={askDeleteSelected}
            >
              Delete selected
            </button>
          </div>
        )}
      </div>
      {failed && <SectionError error={failed.error} onRetry={() => failed.refetch()} />}
      <section
        ref={scrollRef}
        className="virtual-scroll"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard
        tabIndex={0}
        aria-label={`Tags of ${name}, scrollable`}
      >
        <table
          ref={tableRef}
          className={`data-table vtable${canDelete ? " with-actions" : ""}`}
          style={fitted}
          aria-rowcount={total + 1}
          data-total={total}
        >
          <caption className="visually-hidden">
            Tags of {name}. Arrow keys, Page Up, Page Down, Home and End move between tags.
          </caption>
          <colgroup>
            {canDelete && <col className="col-select" />}
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
              {canDelete && (
                <th scope="col" className="cell-select">
                  {everyTag ? (
                    <input
                      type="checkbox"
                      aria-label={`Select all ${formatCount(total)} tags`}
                      checked={allSelected}
                      ref={(box) => {
                        if (box) box.indeterminate = !allSelected && selected.size > 0;
                      }}
                      onChange={(event) => setSelected(event.target.checked ? new Set(everyTag) : new Set())}
                    />
                  ) : (
                    <span className="visually-hidden">Select</span>
                  )}
                </th>
              )}
              <th scope="col">Tag</th>
              <th scope="col" data-fit="digest">
                <span>Digest</span>
              </th>
              <th scope="col" className="num">
                Size <HelpTip label="tag sizes">{SIZE_HELP.manifest}</HelpTip>
              </th>
              <th scope="col" data-fit="platforms">
                <span>Platforms</span>
              </th>
              <th scope="col" data-fit="created">
                <span>Created</span>
              </th>
              <th scope="col" data-fit="pulled">
                <span>Last pulled</span>
              </th>
              <th scope="col" data-fit="vulns">
                <span>Vulnerabilities</span>
              </th>
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
              const tabIndex = row.index === tabbable ? 0 : -1;
              const platforms = tag?.platforms.map(platformLabel).join(", ");
              return (
                <tr
                  key={row.key}
                  aria-rowindex={row.index + 2}
                  className={`vrow${tag && selected.has(tag.tag) ? " selected" : ""}`}
                  data-index={row.index}
                >
                  {tag ? (
                    <>
                      {canDelete && (
                        <td className="cell-select">
                          <input
                            type="checkbox"
                            aria-label={`Select tag ${tag.tag}`}
                            checked={selected.has(tag.tag)}
                            onChange={(event) => toggle(tag.tag, event.target.checked)}
                            tabIndex={tabIndex}
                          />
                        </td>
                      )}
                      <th scope="row" className="cell-tag">
                        <Link href={href.tag(registryId, name, tag.tag)} tabIndex={tabIndex} title={tag.tag}>
                          {tag.tag}
                        </Link>
                      </th>
                      <td className="mono" title={tag.digest} data-fit="digest">
                        <span>{shortDigest(tag.digest)}</span>
                      </td>
                      <td className="num">{formatBytes(tag.sizeBytes)}</td>
                      <td title={platforms || undefined} data-fit="platforms">
                        <span>{platforms || "—"}</span>
                      </td>
                      <td data-fit="created">
                        <TimeText iso={tag.created} />
                      </td>
                      <td
                        className="cell-pulled"
                        data-fit="pulled"
                        title={tag.pulls === null ? undefined : `${formatCount(tag.pulls)} pulls`}
                      >
                        <span>
                          <TimeText iso={tag.lastPulledAt} />
                          {tag.pulls !== null && (
                            <span className="visually-hidden">, {formatCount(tag.pulls)} pulls</span>
                          )}
                        </span>
                      </td>
                      <td data-fit="vulns">
                        <VulnerabilityBadges counts={tag.vulnerabilities} />
                      </td>
                      {canDelete && (
                        <td>
                          <button
                            type="button"
                            className="button button-small button-danger-quiet"
                            onClick={() => askDelete(tag)}
                            tabIndex={tabIndex}
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

function without(set: ReadonlySet<string>, remove: readonly string[]): ReadonlySet<string> {
  if (!remove.some((item) => set.has(item))) return set;
  const next = new Set(set);
  for (const item of remove) next.delete(item);
  return next;
}
