/**
 * `npm pack` and `npm install -g` of the tarball into a fresh prefix, as a user outside the
 * checkout installs Reestr: what the package holds, and that the installed `reestr` runs every
 * command (from lib/, since Node strips no types under node_modules), serves the registry and the
 * web catalogue, and talks to it.
 *
 * The install is offline from npm's cache when the cache holds the dependencies' metadata;
 * otherwise it falls back to --prefer-offline (tarballs from the cache, metadata from the
 * registry), and is skipped when neither works (no network and a cold cache).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { VERSION } from "../../src/version.ts";
import { REPO_ROOT, type ServerProcess, startReestr } from "../helpers/reestr-process.ts";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** npm from PATH, with Node 24 first on PATH (npm's own scripts and the installed bin use it). */
const PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ""}`;
const ENV = {
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("REESTR_"))),
  PATH,
};

function run(command: string, args: string[], options: { cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    // The timeout guards against a hang only (an install waiting on a network that is not there).
    execFile(
      command,
      args,
      { cwd: options.cwd ?? REPO_ROOT, env: ENV, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr });
      },
    );
  });
}

let dir: string;
let tarball: string;
let files: string[];
let prefix: string;
let installed: string | undefined;
let notInstalled = "";

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-package-"));
  const packed = await run("npm", ["pack", "--json", "--pack-destination", dir]);
  assert.equal(packed.code, 0, `npm pack failed:\n${packed.stderr}`);
  // The prepack script prints its own progress first; the JSON report is the last thing on stdout.
  const report = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("[\n"))) as {
    filename: string;
    files: { path: string }[];
  }[];
  tarball = join(dir, report[0]!.filename);
  files = report[0]!.files.map((file) => file.path);

  prefix = join(dir, "prefix");
  const common = [
    "install",
    "-g",
    "--prefix",
    prefix,
    "--no-audit",
    "--no-fund",
    "--loglevel=error",
    tarball,
  ];
  let install = await run("npm", [...common, "--offline"]);
  if (install.code !== 0 && /ENOTCACHED/.test(install.stderr)) {
    install = await run("npm", [...common, "--prefer-offline"]);
  }
  if (install.code === 0) installed = join(prefix, "bin", "reestr");
  else
    notInstalled = `npm install -g could not install the dependencies: ${install.stderr.trim().split("\n")[0]}`;
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the packed package", () => {
  test("holds the entry point, lib/ (src/ as JavaScript), src/ and the built web app; no tests", () => {
    for (const path of [
      "bin/reestr.js",
      "lib/cli/main.js",
      "lib/app/server.js",
      "src/cli/main.ts",
      "package.json",
    ]) {
      assert.ok(files.includes(path), `${path} is in the package`);
    }
    assert.ok(files.includes("dist/web/index.html"), "the web catalogue's build");
    assert.ok(
      !files.some((path) => path.startsWith("test/") || path.startsWith("bench/")),
      "no tests or benchmarks",
    );
    assert.ok(!files.some((path) => path.includes("node_modules")), "no dependencies");
    assert.ok(
      !files.some((path) => path.startsWith("lib/") && path.endsWith(".ts")),
      "lib/ is JavaScript only",
    );
  });

  test("packing leaves no lib/ behind in the checkout", () => {
    assert.ok(!existsSync(join(REPO_ROOT, "lib")), "postpack removed lib/");
  });
});

describe("npm install -g of the tarball into a fresh prefix", () => {
  test("reestr --version and --help, every command loading from the installed lib/", async (t) => {
    if (!installed) return t.skip(notInstalled);
    assert.match(realpathSync(installed), /[\\/]lib[\\/]node_modules[\\/]reestr[\\/]bin[\\/]reestr\.js$/);
    const version = await run(installed, ["--version"]);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), VERSION);
    // The overview leaves out any command whose module fails to load: all of them must be there.
    const help = await run(installed, ["--help"]);
    for (const command of [
      "serve",
      "status",
      "list",
      "push",
      "pull",
      "scan",
      "watch",
      "deploy",
      "kind",
      "user",
      "cert",
      "ui",
      "operator",
      "migrate",
    ]) {
      assert.match(help.stdout, new RegExp(`^ {2}${command} `, "m"), `reestr ${command} is listed`);
    }
  });

  test("reestr serve from the prefix answers /v2/, the web catalogue and reestr status", async (t) => {
    if (!installed) return t.skip(notInstalled);
    let server: ServerProcess | undefined;
    try {
      server = await startReestr({ bin: installed });
      const page = await fetch(`${server.url}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<div id="root">/);
      const status = await run(installed, ["status", server.url, "--json"]);
      assert.equal(status.code, 0, status.stderr);
      assert.equal((JSON.parse(status.stdout) as { version: string }).version, VERSION);
      const lock = JSON.parse(await readFile(join(server.dataDir, "reestr.lock"), "utf8")) as { pid: number };
      assert.equal(lock.pid, server.pid);
    } finally {
      await server?.cleanup();
    }
  });
});
