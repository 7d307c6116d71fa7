/**
 * `/r/<id>/<name>/-/tag/<tag>` and `/-/manifest/<digest>`: one manifest in full — media type,
 * digest, config and layers, the platform matrix of an index, referrers grouped by kind (SBOM,
 * signatures, attestations), vulnerabilities and the tag's digest history — plus deleting it on
 * Reestr's own registry after a confirmation.
 */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, call, type ManifestDetail, type Referrer } from "../../api/client.ts";
import { ensureSignedIn } from "../account.tsx";
import {
  CommandLine,
  ConfirmDialog,
  type ConfirmRequest,
  CopyButton,
  Empty,
  HelpTip,
  Loading,
  SectionError,
  TimeText,
  useToast,
  VulnerabilityBadges,
} from "../components.tsx";
import {
  formatBytes,
  formatTimestamp,
  isIndex,
  mediaTypeLabel,
  platformLabel,
  SIZE_HELP,
  shortDigest,
} from "../format.ts";
import { useScrollRestore, useTitle } from "../hooks.ts";
import { invalidateRegistry, manifestQuery } from "../queries.ts";
import { href, Link, navigate } from "../router.tsx";
import { Breadcrumbs, RegistryBanner, useRegistry } from "./shared.tsx";

const KIND_HEADINGS: Record<Referrer["kind"], string> = {
  sbom: "SBOMs",
  signature: "Signatures",
  attestation: "Attestations",
  other: "Other artifacts",
};
const KINDS = ["sbom", "signature", "attestation", "other"] as const;

export function TagView({
  registryId,
  name,
  reference,
  kind,
}: {
  registryId: string;
  name: string;
  reference: string;
  kind: "tag" | "manifest";
}) {
  const { registry, label } = useRegistry(registryId);
  const title = kind === "tag" ? `${name}:${reference}` : `${name}@${shortDigest(reference)}`;
  useTitle(title);
  const query = useQuery(manifestQuery(registryId, name, reference));
  useScrollRestore(query.isSuccess);
  const canDelete = Boolean(registry?.local && registry.status.capabilities.delete);
  const manifest = query.data;

  return (
    <>
      <Breadcrumbs
        items={[
          { label: "Registries", href: "/" },
          { label, href: href.repositories(registryId) },
          { label: name, href: href.repository(registryId, name) },
          { label: kind === "tag" ? reference : shortDigest(reference) },
        ]}
      />
      <h1 tabIndex={-1} className="break">
        {title}
      </h1>
      <RegistryBanner registry={registry} />
      {query.isPending && <Loading label="Loading manifest…" />}
      {query.isError && <SectionError error={query.error} onRetry={() => query.refetch()} />}
      {manifest && (
        <>
          {canDelete && (
            <DeleteActions
              registryId={registryId}
              name={name}
              reference={reference}
              kind={kind}
              manifest={manifest}
            />
          )}
          <ManifestSection manifest={manifest} />
          {manifest.platforms.length > 0 && (
            <PlatformSection registryId={registryId} name={name} manifest={manifest} />
          )}
          {manifest.layers.length > 0 && <LayersSection manifest={manifest} />}
          {manifest.config && <ConfigSection config={manifest.config} />}
          <ReferrersSection registryId={registryId} name={name} referrers={manifest.referrers} />
          <VulnerabilitySection manifest={manifest} />
          {kind === "tag" && <HistorySection manifest={manifest} />}
        </>
      )}
    </>
  );
}

function DeleteActions({
  registryId,
  name,
  reference,
  kind,
  manifest,
}: {
  registryId: string;
  name: string;
  reference: string;
  kind: "tag" | "manifest";
  manifest: ManifestDetail;
}) {
  const client = useQueryClient();
  const toast = useToast();
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const deleteTag = () =>
    setConfirm({
      title: `Delete tag ${reference}?`,
      body: (
        <p>
          The tag <strong>{reference}</strong> of <strong>{name}</strong> is removed. The manifest{" "}
          <code>{shortDigest(manifest.digest)}</code> stays reachable by digest.
        </p>
      ),
      confirmLabel: "Delete tag",
      onConfirm: async () => {
        await ensureSignedIn(client);
        await call(
          api.DELETE("/api/registries/{id}/repositories/{name}/tags/{tag}", {
            params: { path: { id: registryId, name, tag: reference } },
          }),
        );
        toast.show("success", `Deleted tag ${name}:${reference}`);
        await invalidateRegistry(client, registryId);
        navigate(href.repository(registryId, name));
      },
    });
  const deleteManifest = () =>
    setConfirm({
      title: "Delete this manifest?",
      body: (
        <>
          <p>
            The manifest <code className="break">{manifest.digest}</code> of <strong>{name}</strong> and every
            tag pointing at it are removed from Reestr's registry.
          </p>
          <p>This cannot be undone: pulls by tag or digest will fail.</p>
        </>
      ),
      confirmLabel: "Delete manifest",
      onConfirm: async () => {
        await ensureSignedIn(client);
        await call(
          api.DELETE("/api/registries/{id}/repositories/{name}/manifests/{digest}", {
            params: { path: { id: registryId, name, digest: manifest.digest } },
          }),
        );
        toast.show("success", `Deleted manifest ${shortDigest(manifest.digest)} of ${name}`);
        await invalidateRegistry(client, registryId);
        navigate(href.repository(registryId, name));
      },
    });
  return (
    <div className="danger-actions">
      {kind === "tag" && (
        <button type="button" className="button button-danger-quiet" onClick={deleteTag}>
          Delete tag
        </button>
      )}
      <button type="button" className="button button-danger-quiet" onClick={deleteManifest}>
        Delete manifest
      </button>
      <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />
    </div>
  );
}

function ManifestSection({ manifest }: { manifest: ManifestDetail }) {
  const annotations = Object.entries(manifest.annotations);
  return (
    <section aria-labelledby="manifest-heading" className="section">
      <h2 id="manifest-heading">Manifest</h2>
      <dl className="facts wide">
        <div>
          <dt>Media type</dt>
          <dd>
            {mediaTypeLabel(manifest.mediaType)}
            <span className="mono small block break">{manifest.mediaType}</span>
          </dd>
        </div>
        <div>
          <dt>Digest</dt>
          <dd className="digest-line">
            <code className="break">{manifest.digest}</code>
            <CopyButton text={manifest.digest} what="manifest digest" />
          </dd>
        </div>
        <div>
          <dt>
            Total size <HelpTip label="the total size">{SIZE_HELP.manifest}</HelpTip>
          </dt>
          <dd>{formatBytes(manifest.sizeBytes)}</dd>
        </div>
        {manifest.config && (
          <>
            <div>
              <dt>Config digest</dt>
              <dd className="digest-line">
                <code className="break">{manifest.config.digest}</code>
                <CopyButton text={manifest.config.digest} what="config digest" />
              </dd>
            </div>
            <div>
              <dt>Platform</dt>
              <dd>
                {manifest.config.os && manifest.config.architecture
                  ? `${manifest.config.os}/${manifest.config.architecture}`
                  : "—"}
              </dd>
            </div>
            <div>
              <dt>Created</dt>
              <dd>
                <TimeText iso={manifest.config.created} />
              </dd>
            </div>
          </>
        )}
      </dl>
      <h3 className="small-heading">Pull</h3>
      <div className="commands">
        <CommandLine label="docker" command={manifest.pullCommands.docker} />
        <CommandLine label="podman" command={manifest.pullCommands.podman} />
        <CommandLine label="ctr" command={manifest.pullCommands.ctr} />
      </div>
      {annotations.length > 0 && (
        <>
          <h3 className="small-heading">Annotations</h3>
          <KeyValueTable caption="Annotations" entries={annotations} />
        </>
      )}
    </section>
  );
}

function PlatformSection({
  registryId,
  name,
  manifest,
}: {
  registryId: string;
  name: string;
  manifest: ManifestDetail;
}) {
  return (
    <section aria-labelledby="platforms-heading" className="section">
      <h2 id="platforms-heading">Platforms</h2>
      <p className="muted">
        This {isIndex(manifest.mediaType) ? "index" : "manifest"} holds {manifest.platforms.length} platform{" "}
        {manifest.platforms.length === 1 ? "image" : "images"}.
      </p>
      <div className="table-wrap">
        <table className="data-table">
          <caption className="visually-hidden">Platform matrix</caption>
          <thead>
            <tr>
              <th scope="col">Platform</th>
              <th scope="col">OS</th>
              <th scope="col">Architecture</th>
              <th scope="col">Variant</th>
              <th scope="col">Digest</th>
              <th scope="col" className="num">
                Size
              </th>
            </tr>
          </thead>
          <tbody>
            {manifest.platforms.map((platform) => (
              <tr key={platform.digest + platformLabel(platform)}>
                <th scope="row">
                  <Link href={href.manifest(registryId, name, platform.digest)}>
                    {platformLabel(platform)}
                  </Link>
                </th>
                <td>{platform.os}</td>
                <td>{platform.architecture}</td>
                <td>{platform.variant ?? "—"}</td>
                <td className="mono" title={platform.digest}>
                  {shortDigest(platform.digest)}
                </td>
                <td className="num">{formatBytes(platform.sizeBytes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function LayersSection({ manifest }: { manifest: ManifestDetail }) {
  const total = manifest.layers.reduce((sum, layer) => sum + layer.size, 0);
  return (
    <section aria-labelledby="layers-heading" className="section">
      <h2 id="layers-heading">Layers</h2>
      <div className="table-wrap">
        <table className="data-table">
          <caption className="visually-hidden">Layers, in order</caption>
          <thead>
            <tr>
              <th scope="col" className="num">
                #
              </th>
              <th scope="col">Digest</th>
              <th scope="col">Media type</th>
              <th scope="col" className="num">
                Size
              </th>
            </tr>
          </thead>
          <tbody>
            {manifest.layers.map((layer, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: a layer may repeat; its position is its identity
              <tr key={`${i}-${layer.digest}`}>
                <td className="num">{i + 1}</td>
                <td className="mono" title={layer.digest}>
                  {shortDigest(layer.digest)}
                </td>
                <td className="mono small">{layer.mediaType}</td>
                <td className="num">{formatBytes(layer.size)}</td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th scope="row" colSpan={3}>
                {manifest.layers.length} {manifest.layers.length === 1 ? "layer" : "layers"}
              </th>
              <td className="num">{formatBytes(total)}</td>
            </tr>
          </tfoot>
        </table>
      </div>
    </section>
  );
}

function ConfigSection({ config }: { config: NonNullable<ManifestDetail["config"]> }) {
  const labels = Object.entries(config.labels);
  return (
    <section aria-labelledby="config-heading" className="section">
      <h2 id="config-heading">Configuration</h2>
      <dl className="facts wide">
        <div>
          <dt>Entrypoint</dt>
          <dd>{config.entrypoint.length > 0 ? <code>{JSON.stringify(config.entrypoint)}</code> : "—"}</dd>
        </div>
        <div>
          <dt>Command</dt>
          <dd>{config.cmd.length > 0 ? <code>{JSON.stringify(config.cmd)}</code> : "—"}</dd>
        </div>
      </dl>
      <h3 className="small-heading">Environment</h3>
      {config.env.length > 0 ? (
        <ul className="plain-list mono small">
          {config.env.map((entry) => (
            <li key={entry} className="break">
              {entry}
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">No environment variables.</p>
      )}
      <h3 className="small-heading">Labels</h3>
      {labels.length > 0 ? (
        <KeyValueTable caption="Labels" entries={labels} />
      ) : (
        <p className="muted">No labels.</p>
      )}
      <h3 className="small-heading">History</h3>
      {config.history.length > 0 ? (
        <div className="table-wrap">
          <table className="data-table">
            <caption className="visually-hidden">Build history</caption>
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Created by</th>
                <th scope="col">Layer</th>
              </tr>
            </thead>
            <tbody>
              {config.history.map((step, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: history steps have no identity but their order
                <tr key={i}>
                  <td>{formatTimestamp(step.created)}</td>
                  <td className="mono small break">{step.createdBy ?? "—"}</td>
                  <td>{step.emptyLayer ? "empty" : "layer"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p className="muted">No history.</p>
      )}
    </section>
  );
}

function ReferrersSection({
  registryId,
  name,
  referrers,
}: {
  registryId: string;
  name: string;
  referrers: Referrer[];
}) {
  return (
    <section aria-labelledby="referrers-heading" className="section">
      <h2 id="referrers-heading">Referrers</h2>
      {referrers.length === 0 ? (
        <Empty>
          <p>No SBOM, signature or attestation is attached to this manifest.</p>
        </Empty>
      ) : (
        KINDS.map((kind) => {
          const group = referrers.filter((referrer) => referrer.kind === kind);
          if (group.length === 0) return null;
          return (
            <div key={kind} className="referrer-group">
              <h3>
                {KIND_HEADINGS[kind]} <span className="count">({group.length})</span>
              </h3>
              <div className="table-wrap">
                <table className="data-table">
                  <caption className="visually-hidden">{KIND_HEADINGS[kind]}</caption>
                  <thead>
                    <tr>
                      <th scope="col">Artifact type</th>
                      <th scope="col">Digest</th>
                      <th scope="col" className="num">
                        Size
                      </th>
                      <th scope="col">Created</th>
                    </tr>
                  </thead>
                  <tbody>
                    {group.map((referrer) => (
                      <tr key={referrer.digest}>
                        <td className="mono small break">{referrer.artifactType ?? referrer.mediaType}</td>
                        <td className="mono" title={referrer.digest}>
                          <Link href={href.manifest(registryId, name, referrer.digest)}>
                            {shortDigest(referrer.digest)}
                          </Link>
                        </td>
                        <td className="num">{formatBytes(referrer.size)}</td>
                        <td>
                          <TimeText iso={referrer.annotations["org.opencontainers.image.created"] ?? null} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </div>
          );
        })
      )}
    </section>
  );
}

function VulnerabilitySection({ manifest }: { manifest: ManifestDetail }) {
  const report = manifest.vulnerabilities;
  return (
    <section aria-labelledby="vulns-heading" className="section">
      <h2 id="vulns-heading">Vulnerabilities</h2>
      {report ? (
        <>
          <p>
            <VulnerabilityBadges counts={report.summary} />
          </p>
          <p className="muted">
            Scanned {report.scanner ? `by ${report.scanner} ` : ""}
            <TimeText iso={report.scannedAt} />.
          </p>
          <FindingsTable report={report} />
        </>
      ) : (
        <Empty>
          <p>
            Not scanned. Add this repository to the watcher (<code>watch</code> in the server configuration)
            to scan it.
          </p>
        </Empty>
      )}
    </section>
  );
}

type VulnerabilityReport = NonNullable<ManifestDetail["vulnerabilities"]>;
type Finding = VulnerabilityReport["items"][number];

const SEVERITY_ORDER: readonly Finding["severity"][] = ["critical", "high", "medium", "low", "unknown"];

/** Most severe first, then by id and package (the API sends them so; kept here for safety). */
function bySeverity(a: Finding, b: Finding): number {
  return (
    SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity) ||
    a.id.localeCompare(b.id) ||
    a.package.localeCompare(b.package)
  );
}

/** Only web links: an advisory URL comes from the scanner's database, not from us. */
function advisoryUrl(url: string | null): string | undefined {
  return url !== null && /^https?:\/\//i.test(url) ? url : undefined;
}

function FindingsTable({ report }: { report: VulnerabilityReport }) {
  const { summary } = report;
  const total = summary.critical + summary.high + summary.medium + summary.low + summary.unknown;
  if (report.items.length === 0) {
    return (
      <Empty>
        <p>
          {total === 0
            ? "No vulnerabilities at or above the threshold."
            : "The list behind these counts was not kept by this scan; it appears after the image is scanned again."}
        </p>
      </Empty>
    );
  }
  const items = [...report.items].sort(bySeverity);
  return (
    <div className="table-wrap">
      <table className="data-table findings-table">
        <caption>
          {items.length} {items.length === 1 ? "vulnerability" : "vulnerabilities"}, most severe first
        </caption>
        <thead>
          <tr>
            <th scope="col">ID</th>
            <th scope="col">Severity</th>
            <th scope="col">Package</th>
            <th scope="col">Installed</th>
            <th scope="col">Fixed in</th>
            <th scope="col">Title</th>
          </tr>
        </thead>
        <tbody>
          {items.map((finding) => {
            const url = advisoryUrl(finding.url);
            return (
              <tr key={`${finding.id} ${finding.package}`}>
                <th scope="row" className="mono small">
                  {url ? (
                    <a href={url} rel="noopener noreferrer">
                      {finding.id}
                    </a>
                  ) : (
                    finding.id
                  )}
                </th>
                <td>
                  <span className={`badge badge-sev-${finding.severity}`}>{finding.severity}</span>
                </td>
                <td className="mono small break">{finding.package}</td>
                <td className="mono small break">{finding.installed}</td>
                <td className="mono small break">{finding.fixed ?? <span className="muted">no fix</span>}</td>
                <td className="small">{finding.title ?? ""}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function HistorySection({ manifest }: { manifest: ManifestDetail }) {
  return (
    <section aria-labelledby="history-heading" className="section">
      <h2 id="history-heading">Tag history</h2>
      {manifest.history.length === 0 ? (
        <Empty>
          <p>No digest moves recorded. The watcher records them for the repositories it watches.</p>
        </Empty>
      ) : (
        <div className="table-wrap">
          <table className="data-table">
            <caption className="visually-hidden">Digest moves of this tag, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">From</th>
                <th scope="col">To</th>
              </tr>
            </thead>
            <tbody>
              {manifest.history.map((move) => (
                <tr key={`${move.at}-${move.to}`}>
                  <td>
                    <TimeText iso={move.at} />
                  </td>
                  <td className="mono" title={move.from ?? undefined}>
                    {move.from ? shortDigest(move.from) : "(new tag)"}
                  </td>
                  <td className="mono" title={move.to ?? undefined}>
                    {move.to ? shortDigest(move.to) : "(removed)"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function KeyValueTable({ caption, entries }: { caption: string; entries: [string, string][] }) {
  return (
    <div className="table-wrap">
      <table className="data-table kv-table">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>
          {entries.map(([key, value]) => (
            <tr key={key}>
              <th scope="row" className="mono small break">
                {key}
              </th>
              <td className="break">{value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
