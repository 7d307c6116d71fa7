/**
 * The container image `npm run image` builds (scripts/build-image.ts), built here from scratch
 * into a temp dir and then run as users run it: podman loads the `docker load`-style archive and
 * runs it with a read-only root filesystem and nothing writable but its /data volume; skopeo
 * pushes an image into the containerised Reestr and pulls it back; and the build script's own
 * --push puts the Reestr image into that Reestr, built a second time to show the build is
 * reproducible. Podman runs rootful with all its state in the temp dir (see test/helpers/podman.ts).
 *
 * Prints the image's compressed size and the start-up time (podman run → /healthz 200); neither
 * is asserted (no timing thresholds), the README quotes them.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createReadStream, createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { createGunzip } from "node:zlib";
import { indexTar, readTarEntry, type TarEntry } from "../../src/image/tar.ts";
import { digestOf } from "../../src/oci/digest.ts";
import { IMAGE } from "../../src/version.ts";
import { makeOciImage } from "../helpers/fixtures.ts";
import { containerPodmanArgs, PODMAN, podmanEnvironment } from "../helpers/podman.ts";
import { freePort } from "../helpers/reestr-process.ts";
import { waitFor } from "../helpers/wait.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SKOPEO = process.env["SKOPEO_BIN"] ?? "/usr/bin/skopeo";

interface BuiltImage {
  layout: string;
  archive: string;
  digest: string;
  names: string[];
  tags: string[];
  nodeVersion: string;
  layers: { name: string; digest: string; size: number; uncompressedSize: number }[];
  compressedSize: number;
  uncompressedSize: number;
}

let work = "";
let env: NodeJS.ProcessEnv = process.env;
let built: BuiltImage;
const containers: string[] = [];

function run(
  bin: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeout?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      args,
      { timeout: options.timeout ?? 180_000, maxBuffer: 64 * 1024 * 1024, env: options.env ?? env },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${bin} ${args.join(" ")} failed: ${error.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

function podman(args: string[]): Promise<string> {
  return run(PODMAN, [...containerPodmanArgs(join(work, "podman")), ...args]);
}

function skopeo(args: string[]): Promise<string> {
  return run(SKOPEO, ["--insecure-policy", ...args]);
}

/** Runs the build script as `npm run image -- <args>` does, answering its --json summary. */
async function buildImage(args: string[]): Promise<BuiltImage> {
  const stdout = await run(process.execPath, [join(ROOT, "scripts/build-image.ts"), "--json", ...args], {
    timeout: 300_000,
  });
  // With --push, the push command's own JSON follows the build's.
  return JSON.parse(stdout.slice(0, stdout.indexOf("\n}\n") + 2)) as BuiltImage;
}

function blob(digest: string): string {
  return join(built.layout, "blobs", "sha256", digest.slice("sha256:".length));
}

/** A layer's entries by name, from the gunzipped blob. */
async function layerEntries(name: string): Promise<{ tar: string; entries: Map<string, TarEntry> }> {
  const layer = built.layers.find((l) => l.name === name)!;
  const tar = join(work, `${name}.tar`);
  if (!existsSync(tar))
    await pipeline(createReadStream(blob(layer.digest)), createGunzip(), createWriteStream(tar));
  return { tar, entries: new Map((await indexTar(tar)).map((e) => [e.name, e])) };
}

async function httpStatus(url: string): Promise<number> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  await response.arrayBuffer();
  return response.status;
}

describe("the container image", { timeout: 900_000 }, () => {
  before(async () => {
    work = mkdtempSync(join(tmpdir(), "reestr-image-"));
    built = await buildImage(["--output", join(work, "layout"), "--archive", join(work, "reestr.tar")]);
    const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
    const sizes = built.layers.map((l) => `${l.name} ${mib(l.size)}`).join(", ");
    process.stdout.write(
      `# image ${built.names[0]}: ${mib(built.compressedSize)} compressed (${sizes}), ` +
        `${mib(built.uncompressedSize)} uncompressed\n`,
    );
  });

  after(async () => {
    if (!work) return;
    for (const id of containers) await podman(["rm", "-f", "-t", "5", id]).catch(() => {});
    rmSync(work, { recursive: true, force: true });
  });

  test("is named as deploy/ names it and declares how it runs", async () => {
    assert.deepEqual(built.names, [IMAGE]);
    const index = JSON.parse(readFileSync(join(built.layout, "index.json"), "utf8"));
    const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), "utf8"));
    const config = JSON.parse(readFileSync(blob(manifest.config.digest), "utf8"));
    assert.equal(config.os, "linux");
    assert.equal(config.rootfs.diff_ids.length, 4);
    assert.equal(config.config.User, "65532:65532");
    assert.deepEqual(config.config.Entrypoint, ["/usr/local/bin/node", "/app/bin/reestr.js"]);
    assert.deepEqual(config.config.Cmd, ["serve", "--host", "0.0.0.0"]);
    assert.deepEqual(config.config.ExposedPorts, { "5000/tcp": {} });
    assert.deepEqual(config.config.Volumes, { "/data": {} });
    assert.ok(config.config.Env.includes("REESTR_DATA=/data"));
    const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
    assert.equal(config.config.Labels["org.opencontainers.image.version"], version);
    assert.equal(config.config.Labels["org.opencontainers.image.licenses"], "Apache-2.0");
    assert.match(config.config.Labels["org.opencontainers.image.source"], /^https:\/\//);
    assert.match(built.nodeVersion, /^24\./);
  });

  test("holds Node, its libraries, the user and only production packages", async () => {
    const base = await layerEntries("base");
    const passwd = (await readTarEntry(base.tar, base.entries.get("etc/passwd")!)).toString();
    assert.match(passwd, /^reestr:x:65532:65532:/m);
    assert.equal(base.entries.get("data")?.type, "directory");
    assert.equal(base.entries.get("data")?.uid, 65532);
    assert.equal(base.entries.get("tmp")?.mode, 0o1777);
    assert.ok(base.entries.has("etc/ssl/certs/ca-certificates.crt"));
    const libc = [...base.entries.keys()].find((name) => /\/libc\.so\.6$/.test(name));
    assert.ok(libc, "glibc is in the base layer");
    assert.ok(
      [...base.entries.values()].some((e) => /ld-linux[^/]*\.so/.test(e.name) && e.type === "file"),
      "the dynamic loader is in the base layer",
    );

    const node = await layerEntries("node");
    assert.equal(node.entries.get("usr/local/bin/node")?.mode, 0o755);

    const modules = await layerEntries("node_modules");
    const names = [...modules.entries.keys()];
    for (const runtime of ["zod", "yaml", "jose", "@kubernetes/client-node"]) {
      assert.ok(modules.entries.has(`app/node_modules/${runtime}/package.json`), `${runtime} is shipped`);
    }
    for (const dev of ["typescript", "vite", "playwright-core", "@biomejs/biome", "node", "pino"]) {
      assert.ok(!modules.entries.has(`app/node_modules/${dev}`), `dev dependency ${dev} is not shipped`);
    }
    assert.deepEqual(
      names.filter((name) => /\.(map|d\.ts)$/.test(name)),
      [],
      "no source maps or type declarations",
    );
    assert.ok(
      names.every((name) => modules.entries.get(name)!.uid === 0),
      "packages are root-owned",
    );

    const app = await layerEntries("app");
    for (const file of [
      "app/package.json",
      "app/bin/reestr.js",
      "app/src/cli/main.ts",
      "app/dist/web/index.html",
    ]) {
      assert.ok(app.entries.has(file), `${file} is in the app layer`);
    }
    const appNames = [...app.entries.keys()];
    assert.deepEqual(
      appNames.filter((name) => name.endsWith(".test.ts") || name.startsWith("app/src/web/app")),
      [],
    );
  });

  test("runs as 65532 on a read-only root, serves, and takes pushes and pulls", async (t) => {
    if (!existsSync(PODMAN))
      return t.skip(`${PODMAN} is missing: install it with \`apt-get install -y podman\``);
    assert.ok(existsSync(SKOPEO), `${SKOPEO} is missing: install it with \`apt-get install -y skopeo\``);
    env = podmanEnvironment(work);
    await podman(["load", "-i", built.archive]);
    assert.equal((await podman(["run", "--rm", IMAGE, "--version"])).trim(), built.tags[0]);

    // The strictest way to run it: read-only root and no tmpfs at /tmp either, so the only
    // writable path is the data volume (created from the image's /data, so owned by 65532).
    // Host networking keeps all traffic on loopback; no --user: the image's own User applies.
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const started = performance.now();
    const id = (
      await podman([
        "run",
        "-d",
        "--read-only",
        "--read-only-tmpfs=false",
        "--network",
        "host",
        "-v",
        "reestr-data:/data",
        IMAGE,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
      ])
    ).trim();
    containers.push(id);
    await waitFor(async () => (await httpStatus(`${url}/healthz`)) === 200, {
      what: "/healthz of the container",
      timeoutMs: 120_000,
      intervalMs: 100,
    });
    const startup = performance.now() - started;
    const startedAt = Number(
      (await podman(["inspect", "--format", "{{.State.StartedAt.UnixMilli}}", id])).trim(),
    );
    const listening = (await podman(["logs", id]))
      .split("\n")
      .map((line) => {
        try {
          return JSON.parse(line) as { msg?: string; time?: string };
        } catch {
          return {};
        }
      })
      .find((line) => line.msg === "reestr listening");
    assert.ok(listening?.time, "the server logged that it listens");
    process.stdout.write(
      `# start-up: podman run → /healthz 200 in ${(startup / 1000).toFixed(2)} s; ` +
        `container start → listening in ${Date.parse(listening.time) - startedAt} ms\n`,
    );

    // Who runs it: podman's view, and the kernel's.
    const [user, huser] = (await podman(["top", id, "user", "huser"]))
      .trim()
      .split("\n")[1]!
      .trim()
      .split(/\s+/);
    assert.equal(user, "reestr");
    assert.equal(huser, "65532");
    const pid = Number((await podman(["inspect", "--format", "{{.State.Pid}}", id])).trim());
    assert.match(readFileSync(`/proc/${pid}/status`, "utf8"), /^Uid:\s+65532\s+65532\s+65532\s+65532$/m);
    // The root filesystem: read-only as configured, as mounted, and as the process finds it.
    assert.equal(
      (await podman(["inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", id])).trim(),
      "true",
    );
    const rootMount = readFileSync(`/proc/${pid}/mountinfo`, "utf8")
      .split("\n")
      .map((line) => line.split(" "))
      .find((fields) => fields[4] === "/");
    assert.ok(
      rootMount?.[5]?.split(",").includes("ro"),
      `root is mounted read-only: ${rootMount?.join(" ")}`,
    );
    const probe = await podman([
      "exec",
      id,
      "/usr/local/bin/node",
      "-e",
      `const fs = require("node:fs");
       const attempt = (path) => { try { fs.writeFileSync(path, "x"); return "written"; } catch (e) { return e.code; } };
       console.log(JSON.stringify({ uid: process.getuid(), root: attempt("/x"), app: attempt("/app/x"), tmp: attempt("/tmp/x"), data: attempt("/data/probe") }));`,
    ]);
    assert.deepEqual(JSON.parse(probe), {
      uid: 65532,
      root: "EROFS",
      app: "EROFS",
      tmp: "EROFS",
      data: "written",
    });

    // skopeo pushes an image into the containerised Reestr and pulls it back, digests intact.
    const fixture = await makeOciImage(join(work, "fixture"), { tag: "v1", layers: 2, layerSize: 64 * 1024 });
    const ref = `docker://127.0.0.1:${port}/demo/app:v1`;
    await skopeo(["copy", "--dest-tls-verify=false", `oci:${join(work, "fixture")}:v1`, ref]);
    await skopeo(["copy", "--src-tls-verify=false", ref, `oci:${join(work, "pulled")}:v1`]);
    const pulled = JSON.parse(readFileSync(join(work, "pulled", "index.json"), "utf8"));
    assert.equal(pulled.manifests[0].digest, fixture.digest);

    // Reestr's image into Reestr: a second build pushes it with --push (Reestr's own client);
    // the same commit builds to the same digest, and skopeo reads it back under that digest.
    const again = await buildImage([
      "--output",
      join(work, "layout-2"),
      "--push",
      `127.0.0.1:${port}/reestr/reestr`,
    ]);
    assert.equal(again.digest, built.digest, "a second build of the same checkout has the same digest");
    const raw = await skopeo([
      "inspect",
      "--raw",
      "--tls-verify=false",
      `docker://127.0.0.1:${port}/reestr/reestr:${built.tags[0]}`,
    ]);
    assert.equal(digestOf(raw), built.digest);
    await skopeo([
      "copy",
      "--src-tls-verify=false",
      `docker://127.0.0.1:${port}/reestr/reestr:${built.tags[0]}`,
      `oci:${join(work, "reestr-back")}:${built.tags[0]}`,
    ]);
    const back = JSON.parse(readFileSync(join(work, "reestr-back", "index.json"), "utf8"));
    assert.equal(back.manifests[0].digest, built.digest);

    await podman(["stop", "-t", "10", id]);
    assert.equal((await podman(["inspect", "--format", "{{.State.ExitCode}}", id])).trim(), "0");
  });
});
