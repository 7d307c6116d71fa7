/**
 * The scrub on a real server over a real data directory: a blob's file overwritten on disk (as
 * a failing disk would) is found by POST /api/admin/scrub, quarantined and never served again
 * (GET and HEAD answer BLOB_UNKNOWN), the manifest naming it is reported, and pushing the blob
 * again heals it. Missing links and child manifests are reported; one scrub runs at a time;
 * `reestr scrub` (a child process of bin/reestr.js) shows the result and exits 1 on problems.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { hashPassword, writeHtpasswd } from "../../src/auth/htpasswd.ts";
import type { Digest } from "../../src/oci/digest.ts";
import { blobPath, quarantinePath } from "../../src/registry/layout.ts";
import type { ScrubRun } from "../../src/registry/lifecycle/scrub-service.ts";
import { basic } from "../auth/helpers.ts";
import {
  assertError,
  assertHeadError,
  digestOf,
  http,
  OCI_INDEX,
  pushBlob,
  pushImage,
  pushManifest,
  startServer,
  type TestServer,
} from "./helpers.ts";

const exec = promisify(execFile);
const BIN = new URL("../../bin/reestr.js", import.meta.url).pathname;

interface ScrubAnswer {
  started: boolean;
  run: ScrubRun;
}

async function scrubNow(server: TestServer, headers: Record<string, string> = {}): Promise<ScrubRun> {
  const res = await http(server, "POST", "/api/admin/scrub?wait=true", { headers });
  assert.equal(res.status, 200, res.text());
  const answer = res.json<ScrubAnswer>();
  assert.equal(answer.run.status, "succeeded", answer.run.error);
  return answer.run;
}

/** Overwrites a stored blob's file in place with other bytes of the same length. */
async function corrupt(server: TestServer, digest: string): Promise<Buffer> {
  const path = blobPath(server.dataDir, digest as Digest);
  const original = await readFile(path);
  const bad = Buffer.from(original);
  bad[0] = bad[0]! ^ 0xff;
  await writeFile(path, bad);
  return bad;
}

async function metric(server: TestServer, line: RegExp): Promise<number> {
  const text = (await http(server, "GET", "/metrics")).text();
  const found = text.split("\n").find((l) => line.test(l));
  return found === undefined ? Number.NaN : Number(found.split(" ").at(-1));
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `reestr <args>` as a user runs it; no docker config of this machine is read. */
async function reestr(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], {
      env: { ...process.env, DOCKER_CONFIG: "/nonexistent", REESTR_USERNAME: "", ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("scrub: corrupt blobs are found, quarantined and healed by a push", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.cleanup());

  test("a blob whose file was overwritten is reported, moved aside and never served again; pushing it heals it", async () => {
    const layer = Buffer.from("the bytes this layer was pushed with ".repeat(100));
    const image = await pushImage(server, "team/app", "v1", { layers: [layer, Buffer.from("second layer")] });
    const other = await pushImage(server, "other/app", "v1");
    const digest = image.layers[0]!.digest;
    const bad = await corrupt(server, digest);

    // Before a scrub, the bad bytes are what a GET streams (every client checks the digest of
    // what it pulls and refuses them; the registry does not re-hash on each pull).
    const before = await http(server, "GET", `/v2/team/app/blobs/${digest}`);
    assert.equal(before.status, 200);
    assert.deepEqual(before.body, bad);

    const run = await scrubNow(server);
    const result = run.result!;
    assert.equal(result.blobsChecked, 5, "two configs, three layers");
    assert.equal(result.manifestsChecked, 2);
    assert.deepEqual(result.counts, { corrupt: 1, missing: 1, unreadable: 0 });
    assert.deepEqual(result.corrupt, [
      { digest, actual: digestOf(bad), size: layer.byteLength, quarantined: true },
    ]);
    assert.deepEqual(result.missing, [
      { repository: "team/app", manifest: image.digest, digest, kind: "blob", problem: "no bytes" },
    ]);
    assert.ok(result.bytesChecked > layer.byteLength);

    // Moved, as found, out of blobs/.
    assert.deepEqual(await readFile(quarantinePath(server.dataDir, digest as Digest)), bad);
    await assert.rejects(stat(blobPath(server.dataDir, digest as Digest)), { code: "ENOENT" });

    // Never served with a wrong digest: unknown to GET and HEAD, so a client pushes it again.
    assertError(await http(server, "GET", `/v2/team/app/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    assertHeadError(await http(server, "HEAD", `/v2/team/app/blobs/${digest}`), 404);
    // Nor can it be mounted elsewhere: the mount falls back to an upload (202).
    const mount = await http(server, "POST", `/v2/elsewhere/blobs/uploads/?mount=${digest}&from=team/app`);
    assert.equal(mount.status, 202);
    // The rest is untouched.
    assert.equal((await http(server, "GET", `/v2/team/app/manifests/v1`)).status, 200);
    assert.equal((await http(server, "GET", `/v2/other/app/blobs/${other.layers[0]!.digest}`)).status, 200);

    const state = (await http(server, "GET", "/api/admin/scrub")).json<{ running: null; last: ScrubRun }>();
    assert.equal(state.running, null);
    assert.equal(state.last.id, run.id);
    assert.deepEqual(state.last.result?.counts, result.counts);
    assert.equal(await metric(server, /^reestr_scrub_corrupt_blobs_total /), 1);
    assert.equal(await metric(server, /^reestr_scrub_runs_total\{result="problems"\} /), 1);

    // Pushing the image again stores the right bytes under the same digest.
    assert.equal(await pushBlob(server, "team/app", layer), digest);
    const healed = await http(server, "GET", `/v2/team/app/blobs/${digest}`);
    assert.equal(healed.status, 200);
    assert.deepEqual(healed.body, layer);
    const again = await scrubNow(server);
    assert.deepEqual(again.result!.counts, { corrupt: 0, missing: 0, unreadable: 0 });
    assert.equal(await metric(server, /^reestr_scrub_runs_total\{result="clean"\} /), 1);
  });

  test("manifests naming an unlinked blob or a deleted child manifest are reported", async () => {
    const child = await pushImage(server, "multi/app", undefined);
    const kept = await pushImage(server, "multi/app", undefined);
    const index = await pushManifest(
      server,
      "multi/app",
      "latest",
      {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [child.descriptor, kept.descriptor],
      },
      OCI_INDEX,
    );
    const unlinked = kept.layers[0]!.digest;
    assert.equal((await http(server, "DELETE", `/v2/multi/app/blobs/${unlinked}`)).status, 202);
    assert.equal((await http(server, "DELETE", `/v2/multi/app/manifests/${child.digest}`)).status, 202);

    const missing = (await scrubNow(server)).result!.missing.filter((m) => m.repository === "multi/app");
    assert.deepEqual(
      missing.sort((a, b) => a.manifest.localeCompare(b.manifest)),
      [
        {
          repository: "multi/app",
          manifest: index.digest,
          digest: child.digest,
          kind: "manifest",
          problem: "not in repository",
        },
        {
          repository: "multi/app",
          manifest: kept.digest,
          digest: unlinked,
          kind: "blob",
          problem: "not linked",
        },
      ].sort((a, b) => a.manifest.localeCompare(b.manifest)),
    );
  });

  test("one scrub at a time: a second POST answers the run in progress", async () => {
    // One byte a second: the run is still going when the second request arrives.
    const first = await http(server, "POST", "/api/admin/scrub?rate=1");
    assert.equal(first.status, 202);
    const started = first.json<ScrubAnswer>();
    assert.equal(started.started, true);
    assert.equal(started.run.rateBytesPerSecond, 1);
    const second = (await http(server, "POST", "/api/admin/scrub")).json<ScrubAnswer>();
    assert.equal(second.started, false);
    assert.equal(second.run.id, started.run.id);
    const state = (await http(server, "GET", "/api/admin/scrub")).json<{ running: ScrubRun }>();
    assert.equal(state.running.id, started.run.id);
    assert.equal(state.running.status, "running");
    // Shutting down stops it (the server's close waits for the run to end).
    await server.restart();
    const after = (await http(server, "GET", "/api/admin/scrub")).json<{ running: null; last: null }>();
    assert.deepEqual(after, { running: null, last: null });
  });

  test("bad parameters are refused with the parameter named", async () => {
    const wait = await http(server, "POST", "/api/admin/scrub?wait=maybe");
    assert.equal(wait.status, 400);
    assert.match(wait.json<{ error: { message: string } }>().error.message, /^wait: expected true or false/);
    const rate = await http(server, "POST", "/api/admin/scrub?rate=fast");
    assert.equal(rate.status, 400);
    assert.match(rate.json<{ error: { message: string } }>().error.message, /^rate: .*expected a size/);
  });
});

describe("reestr scrub", () => {
  const USERS = { admin: "admin-pass", reader: "reader-pass" };
  let dir: string;
  let server: TestServer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "reestr-scrub-cli-"));
    const htpasswd = join(dir, "htpasswd");
    await writeHtpasswd(
      htpasswd,
      new Map([
        ["admin", await hashPassword(USERS.admin, 4)],
        ["reader", await hashPassword(USERS.reader, 4)],
      ]),
    );
    server = await startServer({
      auth: {
        htpasswd,
        rules: [
          { subjects: ["user:admin"], repositories: ["**"], actions: ["admin"] },
          { subjects: ["user:reader"], repositories: ["**"], actions: ["pull"] },
        ],
      },
    });
  });
  after(async () => {
    await server.cleanup();
    await rm(dir, { recursive: true, force: true });
  });
  const admin = { REESTR_USERNAME: "admin", REESTR_PASSWORD: USERS.admin };

  test("needs an administrator, and says so", async () => {
    const anonymous = await reestr(["scrub", server.url]);
    assert.equal(anonymous.code, 1);
    assert.match(
      anonymous.stderr,
      /wants credentials .*REESTR_USERNAME and REESTR_PASSWORD \(an administrator\)/,
    );
    const reader = await reestr(["scrub", server.url], {
      REESTR_USERNAME: "reader",
      REESTR_PASSWORD: USERS.reader,
    });
    assert.equal(reader.code, 1);
    assert.match(reader.stderr, /needs a registry administrator/);
  });

  test("exits 0 on sound storage and 1 with corruption, listing it; --json and --status for scripts", async () => {
    const image = await pushImageAs(server, "cli/app");
    const clean = await reestr(["scrub", server.url, "--rate", "100"], admin);
    assert.equal(clean.code, 0, clean.stderr);
    assert.match(clean.stdout, /everything is sound/);
    assert.match(clean.stdout, /blobs: +2 re-hashed/);

    const bad = await corrupt(server, image.layer);
    const found = await reestr(["scrub", server.url], admin);
    assert.equal(found.code, 1, found.stderr);
    assert.match(found.stdout, /2 problems found/);
    assert.ok(found.stdout.includes(`${image.layer} (`), found.stdout);
    assert.ok(found.stdout.includes(`the bytes hash to ${digestOf(bad)}`), found.stdout);
    assert.ok(
      found.stdout.includes(`cli/app@${image.manifest} names blob ${image.layer}: no bytes`),
      found.stdout,
    );

    const status = await reestr(["scrub", server.url, "--status", "--json"], admin);
    assert.equal(status.code, 1, "the last run found problems");
    const state = JSON.parse(status.stdout) as { running: null; last: ScrubRun };
    assert.equal(state.last.result?.counts.corrupt, 1);

    const json = await reestr(["scrub", server.url, "--json"], admin);
    // The blob is quarantined now: what is left is the manifest naming a blob with no bytes.
    assert.equal(json.code, 1);
    const run = JSON.parse(json.stdout) as ScrubRun;
    assert.deepEqual(run.result?.counts, { corrupt: 0, missing: 1, unreadable: 0 });
  });

  test("--help and bad flags", async () => {
    const help = await reestr(["scrub", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: reestr scrub \[url\]/);
    const bad = await reestr(["scrub", server.url, "--rate", "fast"], admin);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--rate: expected a positive number/);
  });
});

/** A one-layer image pushed by the administrator; its digests. */
async function pushImageAs(server: TestServer, repo: string) {
  const { pushImage: push } = await import("../auth/helpers.ts");
  return push(server, basic("admin", "admin-pass"), repo, "v1");
}
