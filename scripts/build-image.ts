/**
 * `npm run image`: builds Reestr's container image from what this machine already has, with no
 * container daemon and nothing downloaded, and writes it as an OCI image layout (optionally also
 * as a `docker load`-able archive), then pushes it wherever asked.
 *
 * The image is distroless: the Node 24 binary from node_modules (the `node` dev dependency, the
 * one `npm run` puts first on PATH), exactly the shared objects `ldd` says it links (glibc,
 * libstdc++, the dynamic loader) copied from the host, the host's CA bundle, an /etc/passwd with
 * the `reestr` user (65532), and the app: bin/, src/ without tests and the React sources,
 * dist/web built by Vite, and the production packages of package-lock.json (what
 * `npm ci --omit=dev` installs) without source maps and TypeScript declarations. No shell.
 *
 * Four layers, least often changed first, so a new app version re-uses the base and Node:
 * base files, node, node_modules, app. File times are one stamp (SOURCE_DATE_EPOCH, else the
 * HEAD commit's time), so a commit always builds to the same digests.
 */
import { execFileSync } from "node:child_process";
import { createWriteStream, existsSync, readFileSync, realpathSync } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { arch } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { buildLayer, writeImage } from "../src/image/build.ts";
import {
  directoryEntries,
  hostFileEntry,
  hostPathEntries,
  sharedLibraries,
  withParentDirectories,
} from "../src/image/host-files.ts";
import { CONTAINERD_NAME_ANNOTATION, OciLayout } from "../src/image/oci-layout.ts";
import { type TarInputEntry, tarChunks } from "../src/image/tar.ts";
import { IMAGE_REPOSITORY } from "../src/version.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The unprivileged user the image runs as (distroless's `nonroot` number). */
export const IMAGE_UID = 65532;

/** What a container of the image runs, and how: also what the Containerfile must declare. */
export const IMAGE_RUNTIME = {
  user: `${IMAGE_UID}:${IMAGE_UID}`,
  entrypoint: ["/usr/local/bin/node", "/app/bin/reestr.js"],
  cmd: ["serve", "--host", "0.0.0.0"],
  exposedPorts: ["5000/tcp"],
  volumes: ["/data"],
  workingDir: "/data",
  env: ["PATH=/usr/local/bin:/usr/bin:/bin", "REESTR_DATA=/data"],
} as const;

const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

interface PackageJson {
  name: string;
  version: string;
  description?: string;
  license?: string;
  repository?: string | { url?: string };
}

/** `--platform`-style architecture names for the machine the binary was built for. */
function ociArchitecture(): string {
  const names: Record<string, string> = {
    x64: "amd64",
    arm64: "arm64",
    arm: "arm",
    ppc64: "ppc64le",
    s390x: "s390x",
  };
  const name = names[arch()];
  if (!name) throw new Error(`no OCI architecture name for ${arch()}`);
  return name;
}

/** SOURCE_DATE_EPOCH, else the HEAD commit's time, else now: the stamp on every file and the config. */
function sourceDateEpoch(root: string): number {
  const fromEnv = process.env["SOURCE_DATE_EPOCH"];
  if (fromEnv !== undefined && fromEnv !== "") {
    if (!/^\d+$/.test(fromEnv)) throw new Error(`SOURCE_DATE_EPOCH must be whole seconds, got "${fromEnv}"`);
    return Number(fromEnv);
  }
  try {
    return Number(
      execFileSync("git", ["-C", root, "log", "-1", "--format=%ct"], { encoding: "utf8" }).trim(),
    );
  } catch {
    return Math.floor(Date.now() / 1000);
  }
}

function gitRevision(root: string): string | undefined {
  try {
    return execFileSync("git", ["-C", root, "rev-parse", "HEAD"], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The Node binary to ship: `--node`, else node_modules' own (the `node` dev dependency), else
 * the one running this script. It must be an ELF executable of Node 24, the version Reestr needs.
 */
async function findNode(root: string, explicit?: string): Promise<{ path: string; version: string }> {
  const local = join(root, "node_modules/node/bin/node");
  const candidate = realpathSync(explicit ?? (existsSync(local) ? local : process.execPath));
  const handle = await open(candidate, "r");
  const magic = Buffer.alloc(4);
  try {
    await handle.read(magic, 0, 4, 0);
  } finally {
    await handle.close();
  }
  if (!magic.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) {
    throw new Error(
      `${candidate} is not an ELF executable (a wrapper script?); pass the real binary with --node`,
    );
  }
  const version = execFileSync(candidate, ["-p", "process.versions.node"], { encoding: "utf8" }).trim();
  if (!version.startsWith("24.")) throw new Error(`${candidate} is Node ${version}; the image needs Node 24`);
  return { path: candidate, version };
}

/** The packages `npm ci --omit=dev` installs: package-lock.json entries not marked dev. */
function productionPackages(root: string): string[] {
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as {
    lockfileVersion?: number;
    packages?: Record<string, { dev?: boolean; optional?: boolean; link?: boolean }>;
  };
  if (!lock.packages || (lock.lockfileVersion ?? 0) < 2) {
    throw new Error("package-lock.json has no `packages` map (lockfileVersion 2 or later is needed)");
  }
  const paths: string[] = [];
  for (const [path, meta] of Object.entries(lock.packages)) {
    if (path === "" || meta.dev || meta.link) continue;
    if (!existsSync(join(root, path))) {
      // An optional package for another OS or CPU is never installed; anything else must be.
      if (meta.optional) continue;
      throw new Error(`${path} is in package-lock.json but not installed: run npm ci`);
    }
    paths.push(path);
  }
  return paths.sort();
}

/** Source maps and TypeScript sources/declarations: Node never loads them from node_modules. */
function isUnusedInPackage(relative: string): boolean {
  return /\.(map|ts|mts|cts)$/.test(relative);
}

/** Builds dist/web when it is missing or older than its sources (as `npm start` does). */
async function ensureWebBuild(root: string, log: (line: string) => void): Promise<string> {
  const { webBuildIsStale } = await import("./build-web-if-stale.ts");
  if (webBuildIsStale()) {
    log("building the web catalogue (dist/web) …");
    const vite = await import("vite").catch(() => {
      throw new Error(
        "dist/web is missing or stale and Vite is not installed: run npm ci (with dev dependencies)",
      );
    });
    await vite.build({ configFile: join(root, "src/web/vite.config.ts"), logLevel: "warn" });
  }
  return join(root, "dist/web");
}

function passwd(): string {
  return `root:x:0:0:root:/root:/sbin/nologin\nreestr:x:${IMAGE_UID}:${IMAGE_UID}:reestr:/home/reestr:/sbin/nologin\n`;
}

function group(): string {
  return `root:x:0:\nreestr:x:${IMAGE_UID}:\n`;
}

async function* baseEntries(libraries: string[], mtime: number): AsyncGenerator<TarInputEntry> {
  const t = { mtime };
  const owned = { mtime, uid: IMAGE_UID, gid: IMAGE_UID };
  yield { name: "etc", type: "directory", ...t };
  yield { name: "etc/passwd", data: passwd(), ...t };
  yield { name: "etc/group", data: group(), ...t };
  // glibc reads it for getaddrinfo and getpwuid; without it the defaults differ between versions.
  yield { name: "etc/nsswitch.conf", data: "passwd: files\ngroup: files\nhosts: files dns\n", ...t };
  yield { name: "etc/ssl", type: "directory", ...t };
  yield { name: "etc/ssl/certs", type: "directory", ...t };
  yield await hostFileEntry(CA_BUNDLE, CA_BUNDLE.slice(1), t);
  yield { name: "tmp", type: "directory", mode: 0o1777, ...t };
  yield { name: "home", type: "directory", ...t };
  yield { name: "home/reestr", type: "directory", ...owned };
  // The data directory: owned by the user, so a fresh volume mounted here (which takes the
  // image directory's owner) is writable without an init container or chown.
  yield { name: "data", type: "directory", mode: 0o750, ...owned };
  for (const library of libraries) yield* await hostPathEntries(library, t);
}

async function* nodeEntries(node: string, mtime: number): AsyncGenerator<TarInputEntry> {
  yield { name: "usr/local/bin", type: "directory", mtime };
  yield await hostFileEntry(node, "usr/local/bin/node", { mtime, mode: 0o755 });
}

async function* nodeModulesEntries(root: string, packages: string[], mtime: number) {
  yield { name: "app", type: "directory", mtime } satisfies TarInputEntry;
  yield { name: "app/node_modules", type: "directory", mtime } satisfies TarInputEntry;
  for (const path of packages) {
    yield* directoryEntries(join(root, path), `app/${path}`, {
      mtime,
      // A package's own node_modules holds packages the lock file lists on their own.
      skip: (relative, info) =>
        relative === "node_modules" || (!info.isDirectory() && isUnusedInPackage(relative)),
    });
  }
}

/** Server sources only: no tests, no React app (Vite bundles it into dist/web), no build config. */
function isNotServerSource(relative: string, isDirectory: boolean): boolean {
  if (isDirectory) return relative === "web/app";
  return !relative.endsWith(".ts") || relative.endsWith(".test.ts") || relative === "web/vite.config.ts";
}

async function* appEntries(root: string, web: string, mtime: number): AsyncGenerator<TarInputEntry> {
  yield { name: "app", type: "directory", mtime };
  yield await hostFileEntry(join(root, "package.json"), "app/package.json", { mtime });
  yield* directoryEntries(join(root, "bin"), "app/bin", { mtime });
  yield* directoryEntries(join(root, "src"), "app/src", {
    mtime,
    skip: (relative, info) => isNotServerSource(relative, info.isDirectory()),
  });
  yield { name: "app/dist", type: "directory", mtime };
  yield* directoryEntries(web, "app/dist/web", { mtime });
}

export interface BuildImageOptions {
  /** OCI layout directory to write; an existing layout there is replaced. */
  output: string;
  /** Tags, recorded as ref names in the layout (default: package.json's version). */
  tags?: string[];
  /** Repository the image is named under (default ghcr.io/reestr/reestr). */
  repository?: string;
  /** Also write the layout as a tar archive that `docker load` and `podman load` read. */
  archive?: string;
  /** The Node binary to ship (default: node_modules' Node 24). */
  node?: string;
  log?: (line: string) => void;
}

export interface BuiltImageLayer {
  name: string;
  digest: string;
  /** Compressed (gzip) bytes, as pushed and pulled. */
  size: number;
  uncompressedSize: number;
}

export interface BuiltImage {
  layout: string;
  archive?: string;
  digest: string;
  names: string[];
  tags: string[];
  nodeVersion: string;
  layers: BuiltImageLayer[];
  /** Sum of the layer blobs and the config: what a pull downloads. */
  compressedSize: number;
  uncompressedSize: number;
}

export async function buildReestrImage(options: BuildImageOptions): Promise<BuiltImage> {
  const root = ROOT;
  const log = options.log ?? (() => {});
  const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as PackageJson;
  const tags = options.tags?.length ? options.tags : [pkg.version];
  const repository = options.repository ?? IMAGE_REPOSITORY;
  for (const tag of tags) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) throw new Error(`--tag: not a valid tag: "${tag}"`);
  }
  const output = resolve(options.output);
  const existing = await stat(output).catch(() => undefined);
  if (existing && !existsSync(join(output, "oci-layout"))) {
    throw new Error(`${output} exists and is not an OCI layout; refusing to replace it`);
  }

  const mtime = sourceDateEpoch(root);
  const created = new Date(mtime * 1000).toISOString();
  const node = await findNode(root, options.node);
  const libraries = (await sharedLibraries(node.path)).sort();
  const packages = productionPackages(root);
  const web = await ensureWebBuild(root, log);

  // Written next to the output and renamed into place, so a failed build leaves the old one.
  await mkdir(dirname(output), { recursive: true });
  const staging = `${output}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  try {
    const layout = await OciLayout.create(staging);
    const plan: { name: string; history: string; entries: AsyncIterable<TarInputEntry> }[] = [
      {
        name: "base",
        history: `base: /etc (passwd with reestr ${IMAGE_UID}, CA bundle), /data, ${libraries.length} shared objects`,
        entries: baseEntries(libraries, mtime),
      },
      { name: "node", history: `node ${node.version}`, entries: nodeEntries(node.path, mtime) },
      {
        name: "node_modules",
        history: `node_modules: ${packages.length} production packages`,
        entries: nodeModulesEntries(root, packages, mtime),
      },
      { name: "app", history: `reestr ${pkg.version}`, entries: appEntries(root, web, mtime) },
    ];
    const layers = [];
    for (const step of plan) {
      log(`layer ${step.name} …`);
      layers.push({
        ...step,
        built: await buildLayer(layout, withParentDirectories(step.entries, { mtime })),
      });
    }
    const revision = gitRevision(root);
    const labels: Record<string, string> = {
      "org.opencontainers.image.title": pkg.name,
      "org.opencontainers.image.description": pkg.description ?? "",
      "org.opencontainers.image.version": pkg.version,
      "org.opencontainers.image.licenses": pkg.license ?? "",
      "org.opencontainers.image.source": repositoryUrl(pkg),
      "org.opencontainers.image.created": created,
    };
    if (revision) labels["org.opencontainers.image.revision"] = revision;
    const image = await writeImage(layout, {
      layers: layers.map((l) => l.built),
      config: {
        platform: { os: "linux", architecture: ociArchitecture() },
        created,
        user: IMAGE_RUNTIME.user,
        workingDir: IMAGE_RUNTIME.workingDir,
        entrypoint: [...IMAGE_RUNTIME.entrypoint],
        cmd: [...IMAGE_RUNTIME.cmd],
        exposedPorts: [...IMAGE_RUNTIME.exposedPorts],
        volumes: [...IMAGE_RUNTIME.volumes],
        env: [...IMAGE_RUNTIME.env],
        labels,
        history: layers.map((l) => l.history),
      },
    });
    for (const tag of tags) {
      const annotations = { [CONTAINERD_NAME_ANNOTATION]: `${repository}:${tag}` };
      await layout.tag({ ...image.descriptor, annotations }, tag);
    }
    if (existing) await rm(output, { recursive: true, force: true });
    await rename(staging, output);

    const built: BuiltImage = {
      layout: output,
      digest: image.descriptor.digest,
      names: tags.map((tag) => `${repository}:${tag}`),
      tags,
      nodeVersion: node.version,
      layers: layers.map((l) => ({
        name: l.name,
        digest: l.built.descriptor.digest,
        size: l.built.descriptor.size,
        uncompressedSize: l.built.uncompressedSize,
      })),
      compressedSize: image.config.size + layers.reduce((sum, l) => sum + l.built.descriptor.size, 0),
      uncompressedSize: layers.reduce((sum, l) => sum + l.built.uncompressedSize, 0),
    };
    if (options.archive) {
      built.archive = resolve(options.archive);
      await writeLayoutArchive(output, built.archive);
    }
    return built;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** The source label: package.json's repository, else the project's home next to its image. */
function repositoryUrl(pkg: PackageJson): string {
  const declared = typeof pkg.repository === "string" ? pkg.repository : pkg.repository?.url;
  if (declared) return declared.replace(/^git\+/, "").replace(/\.git$/, "");
  return "https://github.com/reestr/reestr";
}

/** The layout as one tar (an "oci-archive"), written to a temp name and renamed into place. */
async function writeLayoutArchive(layout: string, archive: string): Promise<void> {
  await mkdir(dirname(archive), { recursive: true });
  const temp = join(dirname(archive), `.${basename(archive)}.tmp-${process.pid}`);
  try {
    // Relative names: docker and podman expect index.json at the archive's top.
    const entries = async function* () {
      for await (const entry of directoryEntries(layout, ".")) {
        if (entry.name !== ".") yield { ...entry, name: entry.name.slice(2) };
      }
    };
    await pipeline(Readable.from(tarChunks(entries())), createWriteStream(temp));
    await rename(temp, archive);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

const usage = `Usage: npm run image -- [options]

Builds Reestr's container image (distroless: Node 24 from node_modules, the host's glibc, the app
and its production packages; runs as ${IMAGE_UID}) into an OCI image layout. No container daemon
and no downloads; then optionally pushes it.

Options:
  --output <dir>       OCI layout to write (default dist/image; an old layout there is replaced)
  --tag <tag>          tag to record, repeatable (default: package.json's version)
  --repository <name>  repository the image is named under (default ${IMAGE_REPOSITORY})
  --archive <file>     also write the layout as a tar for \`docker load\` / \`podman load\`
  --push <ref>         push to [host[:port]/]repository[:tag] (as \`reestr push\`), repeatable;
                       without a tag, every --tag is pushed
  --insecure           for --push: plain HTTP or unverified TLS
  --node <path>        the Node binary to ship (default node_modules/node/bin/node)
  --json               print the result as JSON
  -h, --help           show this help

Examples:
  npm run image
  npm run image -- --push 127.0.0.1:5000/reestr/reestr
  skopeo copy oci:dist/image:0.1.0 docker-daemon:${IMAGE_REPOSITORY}:0.1.0
`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      output: { type: "string" },
      tag: { type: "string", multiple: true },
      repository: { type: "string" },
      archive: { type: "string" },
      push: { type: "string", multiple: true },
      insecure: { type: "boolean" },
      node: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const started = performance.now();
  const log = (line: string) => process.stderr.write(`image: ${line}\n`);
  const built = await buildReestrImage({
    output: values.output ?? join(ROOT, "dist/image"),
    tags: values.tag,
    repository: values.repository,
    archive: values.archive,
    node: values.node,
    log,
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(built, null, 2)}\n`);
  } else {
    process.stdout.write(
      `built ${built.names.join(", ")} in ${seconds}s\n` +
        `  oci:${built.layout}:${built.tags[0]}  ${built.digest}\n` +
        (built.archive ? `  archive ${built.archive}\n` : "") +
        built.layers
          .map((l) => `  ${l.name.padEnd(13)} ${mib(l.size).padStart(10)}  (${mib(l.uncompressedSize)})\n`)
          .join("") +
        `  ${"total".padEnd(13)} ${mib(built.compressedSize).padStart(10)}  (${mib(built.uncompressedSize)}) compressed (uncompressed)\n`,
    );
  }
  if (values.push?.length) {
    const { default: push } = await import("../src/cli/push.ts");
    const { parseTarget } = await import("../src/cli/args.ts");
    for (const ref of values.push) {
      const targets = parseTarget(ref).tag ? [ref] : built.tags.map((tag) => `${ref}:${tag}`);
      for (const target of targets) {
        const flags = [...(values.insecure ? ["--insecure"] : []), ...(values.json ? ["--json"] : [])];
        const code = await push.run([`${built.layout}:${built.tags[0]}`, target, ...flags]);
        if (code !== 0) return code;
      }
    }
  }
  return 0;
}

if (import.meta.main) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`image: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
