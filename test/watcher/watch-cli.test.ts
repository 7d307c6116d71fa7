import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse as parseYaml } from "yaml";
import watchCommand, { runWatch } from "../../src/cli/watch.ts";
import { ConfigError } from "../../src/config/config.ts";
import { SqliteWatchStore } from "../../src/watcher/store.ts";
import { loadWatchConfig, parseWatchSection } from "../../src/watcher/watch-config.ts";
import { type PushedImage, pushImage, startServer, type TestServer } from "../api/helpers.ts";
import { waitFor } from "../helpers/wait.ts";

function sink() {
  const out = { text: "", write: (chunk: string) => (out.text += chunk) };
  return out;
}

describe("reestr watch", () => {
  let server: TestServer;
  let dir: string;
  let v1: PushedImage;

  before(async () => {
    server = await startServer();
    dir = await mkdtemp(join(tmpdir(), "reestr-watch-cli-"));
    v1 = await pushImage(server, "team/app", "1.0");
    await pushImage(server, "team/app", "latest", {
      config: Buffer.from(JSON.stringify({ os: "linux", architecture: "amd64" })),
    });
  });
  after(async () => {
    await server.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  async function configFile(name: string, text: string): Promise<string> {
    const file = join(dir, name);
    await writeFile(file, text);
    return file;
  }

  test("--once scans every entry, stores the status and prints a table", async () => {
    const dataDir = join(dir, "data-table");
    const file = await configFile(
      "ok.yaml",
      `registries:\n  - name: app\n    url: ${server.url}\n    repository: team/app\n    tagFilter: { sort: alphabetical }\n`,
    );
    const stdout = sink();
    const stderr = sink();
    const code = await runWatch(["-c", file, "--data", dataDir, "--once"], { stdout, stderr });
    assert.equal(code, 0, stderr.text);
    const lines = stdout.text.trim().split("\n");
    assert.match(lines[0]!, /^ENTRY\s+REPOSITORY\s+STATUS\s+TAGS\s+CHANGED\s+SIZE\s+DURATION\s+MESSAGE$/);
    assert.match(
      lines[1]!,
      new RegExp(`^app\\s+127\\.0\\.0\\.1:${server.port}/team/app\\s+Success\\s+2\\s+2\\s`),
    );

    const store = SqliteWatchStore.inDataDir(dataDir);
    try {
      const status = await store.load("app");
      assert.equal(status?.lastScanStatus, "Success");
      assert.deepEqual(
        status?.images.map((i) => i.tag),
        ["latest", "1.0"],
      );
      assert.equal(status?.images.find((i) => i.tag === "1.0")?.digest, v1.digest);
      assert.deepEqual((await store.history("app")).map((c) => [c.tag, c.from, c.to !== undefined]).sort(), [
        ["1.0", undefined, true],
        ["latest", undefined, true],
      ]);
    } finally {
      await store.close();
    }
  });

  test("--once --json reports a moved tag, using the dataDir of the file", async () => {
    const dataDir = join(dir, "data-json");
    const file = await configFile(
      "json.yaml",
      `dataDir: ${dataDir}\nregistries:\n  - name: app\n    url: ${server.url}\n    repository: team/app\n`,
    );
    assert.equal(await runWatch(["-c", file, "--once", "--json"], { stdout: sink(), stderr: sink() }), 0);
    const moved = await pushImage(server, "team/app", "latest");
    const stdout = sink();
    assert.equal(await runWatch(["-c", file, "--once", "--json"], { stdout, stderr: sink() }), 0);
    const results = JSON.parse(stdout.text) as {
      entry: string;
      changed: number;
      status: { lastScanStatus: string; images: { tag: string; digest: string }[] };
      stats: { tagsListed: number };
    }[];
    assert.equal(results.length, 1);
    assert.equal(results[0]!.entry, "app");
    assert.equal(results[0]!.changed, 1);
    assert.equal(results[0]!.status.lastScanStatus, "Success");
    assert.equal(results[0]!.stats.tagsListed, 2);
    assert.equal(results[0]!.status.images.find((i) => i.tag === "latest")?.digest, moved.digest);

    const store = SqliteWatchStore.inDataDir(dataDir);
    try {
      const [last] = await store.history("app", { tag: "latest" });
      assert.equal(last?.to, moved.digest);
      assert.ok(last?.from !== undefined && last.from !== moved.digest);
    } finally {
      await store.close();
    }
  });

  test("--once exits 1 when any entry Failed, and says why", async () => {
    const file = await configFile(
      "failed.yaml",
      JSON.stringify({
        registries: [
          { name: "app", url: server.url, repository: "team/app" },
          { name: "gone", url: server.url, repository: "team/missing", scanConfig: { retries: 0 } },
        ],
      }),
    );
    const stdout = sink();
    const code = await runWatch(["-c", file, "--data", join(dir, "data-failed"), "--once"], {
      stdout,
      stderr: sink(),
    });
    assert.equal(code, 1);
    assert.match(stdout.text, /^app\s.*\sSuccess\s/m);
    assert.match(stdout.text, /^gone\s.*\sFailed\s.*not found/m);
  });

  test("a config error names the field and exits 2", async () => {
    const file = await configFile(
      "bad.yaml",
      `registries:
  - name: app
    url: ${server.url}
    repository: team/app
  - name: other
    url: ${server.url}
    repository: team/app
    tagFilter:
      include: ["(unclosed"]
  - name: app
    url: ftp://example.com
    repository: team/app
    scanInterval: 5
    colour: blue
`,
    );
    const stderr = sink();
    const code = await runWatch(["-c", file, "--data", join(dir, "data-bad"), "--once"], {
      stdout: sink(),
      stderr,
    });
    assert.equal(code, 2);
    assert.match(stderr.text, /registries\[1\]\.tagFilter\.include\[0\]: invalid regular expression/);
    assert.match(stderr.text, /registries\[2\]\.name: duplicate name "app" \(also registries\[0\]\)/);
    assert.match(stderr.text, /registries\[2\]\.url: must be an http:\/\/ or https:\/\/ URL/);
    assert.match(stderr.text, /registries\[2\]\.scanInterval: /);
    assert.match(stderr.text, /registries\[2\]\.colour: unknown field/);

    await assert.rejects(loadWatchConfig(join(dir, "nope.yaml")), /cannot read watch config file/);
    assert.throws(
      () => parseWatchSection({ registries: [], extra: 1 }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /registries: must list at least one registry/);
        assert.match(error.message, /extra: unknown field/);
        return true;
      },
    );
    assert.throws(
      () => parseWatchSection({ registries: [{ url: server.url, repository: "a" }] }),
      /registries\[0\]\.name: required/,
    );
  });

  test("bad flags are usage errors", async () => {
    await assert.rejects(runWatch([]), /watch config file is required/);
    await assert.rejects(runWatch(["-c", "x.yaml", "--json"]), /--json goes with --once/);
    await assert.rejects(runWatch(["-c", "x.yaml", "extra"]), /unexpected argument/);
  });

  test("the --help example is a valid watch config", () => {
    assert.equal(watchCommand.name, "watch");
    const example = watchCommand.usage.slice(watchCommand.usage.indexOf("Example watch.yaml:\n") + 20);
    const yaml = example
      .split("\n")
      .filter((line) => line.startsWith("  "))
      .map((line) => line.slice(2))
      .join("\n");
    const config = parseWatchSection(parseYaml(yaml));
    assert.deepEqual(
      config.registries.map((r) => r.name),
      ["nginx", "app"],
    );
    assert.ok(config.registries[0]!.spec.tagFilter.include.every((p) => new RegExp(p).test("1.27.3")));
  });

  test("without --once it watches until stopped, then closes gracefully", async () => {
    const dataDir = join(dir, "data-daemon");
    const file = await configFile(
      "daemon.yaml",
      `registries:\n  - name: app\n    url: ${server.url}\n    repository: team/app\n    scanInterval: 10\n`,
    );
    const stdout = sink();
    const controller = new AbortController();
    let scans = 0;
    const running = runWatch(["-c", file, "--data", dataDir], {
      stdout,
      stderr: sink(),
      signal: controller.signal,
      onStarted: (scheduler) => {
        // Stop after the first pass has been saved and logged.
        const poll = setInterval(() => {
          if (!scheduler.isRunning("app") && stdout.text.includes('"msg":"registry scan"')) {
            scans++;
            clearInterval(poll);
            controller.abort();
          }
        }, 20);
      },
    });
    assert.equal(await running, 0);
    assert.equal(scans, 1);
    const lines = stdout.text
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const scan = lines.find((l) => l.msg === "registry scan")!;
    assert.equal(scan.entry, "app");
    assert.equal(scan.status, "Success");
    assert.equal(scan.tags, 2);
    assert.equal(typeof scan.durationMs, "number");
    assert.ok(lines.some((l) => l.msg === "shutting down" && l.signal === "abort"));
    const store = SqliteWatchStore.inDataDir(dataDir);
    try {
      assert.equal((await store.entries())[0]?.lastScanStatus, "Success");
    } finally {
      await store.close();
    }
  });

  test("forgets entries no longer configured, and reloads the config on SIGHUP", async () => {
    const dataDir = join(dir, "data-reload");
    const seeded = SqliteWatchStore.inDataDir(dataDir);
    await seeded.save("gone", { url: server.url, repository: "team/gone" }, { images: [] });
    await seeded.close();
    const entryYaml = (name: string) =>
      `  - name: ${name}\n    url: ${server.url}\n    repository: team/app\n    scanInterval: 3600\n`;
    const file = await configFile("reload.yaml", `registries:\n${entryYaml("app")}`);
    const stdout = sink();
    const controller = new AbortController();
    let reload: () => void = () => {};
    const logged = (predicate: (line: Record<string, unknown>) => boolean) =>
      stdout.text
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .some(predicate);
    const until = (what: string, predicate: (line: Record<string, unknown>) => boolean) =>
      waitFor(() => logged(predicate), { what: () => `${what}; log:\n${stdout.text}` });
    const running = runWatch(["-c", file, "--data", dataDir], {
      stdout,
      stderr: sink(),
      signal: controller.signal,
      reload: (trigger) => {
        reload = trigger;
      },
    });
    try {
      await until("first scan of app", (l) => l.msg === "registry scan" && l.entry === "app");
      assert.ok(logged((l) => l.msg === "forgot watch entry no longer configured" && l.entry === "gone"));

      await writeFile(file, `registries:\n${entryYaml("renamed")}`);
      reload();
      await until("scan of the renamed entry", (l) => l.msg === "registry scan" && l.entry === "renamed");
      assert.ok(logged((l) => l.msg === "watch config reloaded"));

      await writeFile(file, "registries: [{ name: broken }]\n");
      reload();
      await until(
        "reload error",
        (l) => l.msg === "watch config reload failed; the previous config stays in force",
      );
    } finally {
      controller.abort();
    }
    assert.equal(await running, 0);
    const store = SqliteWatchStore.inDataDir(dataDir);
    try {
      assert.deepEqual(
        (await store.entries()).map((e) => e.name),
        ["renamed"],
      );
    } finally {
      await store.close();
    }
  });
});
