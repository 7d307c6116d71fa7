/**
 * `/admin/scrub`: the integrity check of this registry (administrators). The last scrub's
 * result — corrupt blobs (quarantined, no longer served), references manifests make that the
 * registry cannot serve, blobs it could not read — the progress of the one in progress (asked
 * once a second until it ends), and "Scrub now".
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call, type Schemas } from "../../api/client.ts";
import { ensureSignedIn } from "../account.tsx";
import { Empty, Loading, SectionError, TimeText } from "../components.tsx";
import { formatBytes, formatCount, formatElapsed, formatQuantity } from "../format.ts";
import { useTitle } from "../hooks.ts";
import { scrubQuery } from "../queries.ts";
import { AdminError, AdminNav } from "./admin.tsx";

type Run = Schemas["ScrubRun"];
type Result = NonNullable<Run["result"]>;

const PROBLEM_TEXT: Record<Result["missing"][number]["problem"], string> = {
  "not linked": "not linked into the repository",
  "no bytes": "no bytes stored (lost, deleted or quarantined)",
  "not in repository": "child manifest not in the repository",
};

function Progress({ run }: { run: Run }) {
  const p = run.progress;
  return (
    <div className="loading run-progress" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      <span>
        Scrub #{run.id} running since <TimeText iso={run.startedAt} />:{" "}
        {p.phase === "blobs" ? "checking blobs" : "checking manifests"} —{" "}
        {formatQuantity(p.blobsChecked, "blob")}({formatBytes(p.bytesChecked)}),{" "}
        {formatQuantity(p.manifestsChecked, "manifest")}, {formatCount(p.corrupt)} corrupt,{" "}
        {formatCount(p.missing)} missing so far
        {run.rateBytesPerSecond ? ` (at most ${formatBytes(run.rateBytesPerSecond)}/s)` : ""}
      </span>
    </div>
  );
}

function Findings({ result }: { result: Result }) {
  const { counts } = result;
  const clean = counts.corrupt + counts.missing + counts.unreadable === 0;
  return (
    <>
      <p className="result-count" role="status">
        {clean
          ? "No problems found"
          : [
              formatQuantity(counts.corrupt, "corrupt blob"),
              formatQuantity(counts.missing, "missing reference"),
              formatQuantity(counts.unreadable, "unreadable blob"),
            ].join(", ")}
        : {formatQuantity(result.blobsChecked, "blob")} ({formatBytes(result.bytesChecked)}) and{" "}
        {formatQuantity(result.manifestsChecked, "manifest")} checked in {formatElapsed(result.durationMs)}.
      </p>
      {result.truncated && (
        <p className="warning-box">
          Each list below shows its first 1,000 entries only; the counts above are whole.
        </p>
      )}
      <section aria-labelledby="scrub-corrupt-heading" className="section">
        <h2 id="scrub-corrupt-heading">Corrupt blobs</h2>
        {result.corrupt.length === 0 ? (
          <Empty>
            <p>Every blob matches its digest.</p>
          </Empty>
        ) : (
          <>
            <p className="result-count">
              Their bytes do not match their digest. Quarantined blobs are no longer served; pushing the image
              again restores them.
            </p>
            <div className="table-wrap">
              <table className="data-table">
                <caption className="visually-hidden">Corrupt blobs</caption>
                <thead>
                  <tr>
                    <th scope="col">Digest</th>
                    <th scope="col">Bytes hash to</th>
                    <th scope="col" className="num">
                      Size
                    </th>
                    <th scope="col">Quarantined</th>
                  </tr>
                </thead>
                <tbody>
                  {result.corrupt.map((blob) => (
                    <tr key={blob.digest}>
                      <th scope="row" className="mono break">
                        {blob.digest}
                      </th>
                      <td className="mono break">{blob.actual}</td>
                      <td className="num">{formatBytes(blob.size)}</td>
                      <td>{blob.quarantined ? "yes" : "no (gone or pushed again meanwhile)"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </section>
      <section aria-labelledby="scrub-missing-heading" className="section">
        <h2 id="scrub-missing-heading">Missing references</h2>
        {result.missing.length === 0 ? (
          <Empty>
            <p>Every manifest's layers, config and child manifests can be served.</p>
          </Empty>
        ) : (
          <div className="table-wrap">
            <table className="data-table">
              <caption className="visually-hidden">Missing references</caption>
              <thead>
                <tr>
                  <th scope="col">Repository</th>
                  <th scope="col">Manifest</th>
                  <th scope="col">Refers to</th>
                  <th scope="col">Problem</th>
                </tr>
              </thead>
              <tbody>
                {result.missing.map((ref) => (
                  <tr key={`${ref.repository}@${ref.manifest}>${ref.digest}`}>
                    <th scope="row">{ref.repository}</th>
                    <td className="mono break">{ref.manifest}</td>
                    <td className="mono break">
                      {ref.digest} <span className="muted">({ref.kind})</span>
                    </td>
                    <td>{PROBLEM_TEXT[ref.problem]}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {result.unreadable.length > 0 && (
        <section aria-labelledby="scrub-unreadable-heading" className="section">
          <h2 id="scrub-unreadable-heading">Unreadable blobs</h2>
          <div className="table-wrap">
            <table className="data-table">
              <caption className="visually-hidden">Unreadable blobs</caption>
              <thead>
                <tr>
                  <th scope="col">Digest</th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {result.unreadable.map((blob) => (
                  <tr key={blob.digest}>
                    <th scope="row" className="mono break">
                      {blob.digest}
                    </th>
                    <td>{blob.error}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
    </>
  );
}

export function ScrubView() {
  useTitle("Integrity");
  const client = useQueryClient();
  const status = useQuery(scrubQuery());
  const starter = useMutation({
    mutationFn: async () => {
      await ensureSignedIn(client, "A scrub needs a signed-in administrator");
      return call(api.POST("/api/admin/scrub"));
    },
    onSettled: () => client.invalidateQueries({ queryKey: scrubQuery().queryKey }),
  });
  const running = status.data?.running ?? null;
  const last = status.data?.last ?? null;
  return (
    <>
      <h1 tabIndex={-1}>Integrity</h1>
      <AdminNav current="scrub" />
      <p className="lead">
        A scrub reads every blob and checks it against its digest — a corrupt one is moved to quarantine and
        no longer served — and checks that every manifest's layers, config and child manifests can be served.
      </p>
      {status.isPending && <Loading label="Loading the last scrub…" />}
      {status.isError && <AdminError error={status.error} onRetry={() => status.refetch()} />}
      {status.data && (
        <>
          <div className="card-actions">
            <button
              type="button"
              className="button"
              disabled={starter.isPending || running !== null}
              onClick={() => starter.mutate()}
            >
              Scrub now
            </button>
          </div>
          {starter.isError && <SectionError error={starter.error} onRetry={() => starter.reset()} />}
          {running && <Progress run={running} />}
          <section aria-labelledby="scrub-last-heading" className="section">
            <h2 id="scrub-last-heading">Last scrub</h2>
            {!last ? (
              <Empty>
                <p>No scrub since the server started.</p>
              </Empty>
            ) : (
              <>
                <dl className="facts">
                  <div>
                    <dt>Started</dt>
                    <dd>
                      <TimeText iso={last.startedAt} />
                    </dd>
                  </div>
                  <div>
                    <dt>Status</dt>
                    <dd>{last.status}</dd>
                  </div>
                  {last.rateBytesPerSecond !== null && (
                    <div>
                      <dt>Read limit</dt>
                      <dd>{formatBytes(last.rateBytesPerSecond)}/s</dd>
                    </div>
                  )}
                </dl>
                {last.status === "failed" && (
                  <div className="inline-error-box" role="alert">
                    <p>
                      <strong>The scrub failed.</strong> {last.error}
                    </p>
                  </div>
                )}
                {last.result && <Findings result={last.result} />}
              </>
            )}
          </section>
        </>
      )}
    </>
  );
}
