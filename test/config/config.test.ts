import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigError, loadConfig } from "../../src/config/config.ts";
import { formatDuration, parseDuration } from "../../src/util/duration.ts";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-config-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let fileCounter = 0;
async function yamlFile(text: string): Promise<string> {
  const path = join(dir, `config-${fileCounter++}.yaml`);
  await writeFile(path, text);
  return path;
}

/** Asserts a ConfigError whose message matches every pattern. */
function configError(...patterns: RegExp[]): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  };
}

describe("loadConfig", () => {
  test("defaults", async () => {
    assert.deepEqual(await loadConfig({}), {
      host: "127.0.0.1",
      port: 5000,
      dataDir: resolve("data"),
      log: { level: "info", accessLog: true },
      storage: {
        deleteEnabled: true,
        uploadExpiry: 86_400_000,
        sync: "full",
        allowSparseManifests: false,
        reserve: 16 * 1024 * 1024,
        pullStats: true,
      },
      gc: { untagged: false, gracePeriod: 3_600_000, schedule: "0 3 * * *" },
      shutdownTimeout: 30_000,
    });
  });

  test("an empty file or one holding only a comment gives the defaults", async () => {
    const defaults = await loadConfig({});
    assert.deepEqual(await loadConfig({ file: await yamlFile("") }), defaults);
    assert.deepEqual(await loadConfig({ file: await yamlFile("# nothing here\n") }), defaults);
  });

  test("values from a YAML file, nested sections merged with their defaults", async () => {
    const file = await yamlFile(
      [
        "host: 0.0.0.0",
        "port: 6000",
        `dataDir: ${join(dir, "from-file")}`,
        "log:",
        "  level: debug",
        "storage:",
        "  deleteEnabled: false",
        "  uploadExpiry: 2h",
        "  reserve: 1%",
        "shutdownTimeout: 5",
        "",
      ].join("\n"),
    );
    assert.deepEqual(await loadConfig({ file }), {
      host: "0.0.0.0",
      port: 6000,
      dataDir: join(dir, "from-file"),
      log: { level: "debug", accessLog: true },
      storage: {
        deleteEnabled: false,
        uploadExpiry: 7_200_000,
        sync: "full",
        allowSparseManifests: false,
        reserve: { percent: 1 },
        pullStats: true,
      },
      gc: { untagged: false, gracePeriod: 3_600_000, schedule: "0 3 * * *" },
      shutdownTimeout: 5000,
    });
  });

  test("a relative dataDir is made absolute", async () => {
    assert.equal((await loadConfig({ flags: { dataDir: "some/where" } })).dataDir, resolve("some/where"));
  });

  test("environment variables override the file", async () => {
    const file = await yamlFile("port: 6000\nhost: file-host\nlog:\n  level: debug\n  accessLog: true\n");
    const config = await loadConfig({
      file,
      env: {
        REESTR_PORT: "7000",
        REESTR_LOG_LEVEL: "warn",
        REESTR_ACCESS_LOG: "false",
        REESTR_DELETE_ENABLED: "no",
        REESTR_STORAGE_SYNC: "normal",
        REESTR_ALLOW_SPARSE_MANIFESTS: "true",
        REESTR_DATA: join(dir, "from-env"),
        REESTR_HOST: "",
      },
    });
    assert.equal(config.port, 7000);
    assert.equal(config.host, "file-host", "an empty variable is ignored");
    assert.equal(config.log.level, "warn");
    assert.equal(config.log.accessLog, false);
    assert.equal(config.log.level, "warn");
    assert.equal(config.storage.deleteEnabled, false);
    assert.equal(config.storage.sync, "normal");
    assert.equal(config.storage.allowSparseManifests, true);
    assert.equal(config.dataDir, join(dir, "from-env"));
  });

  test("flags override the environment and the file; undefined flags do not", async () => {
    const file = await yamlFile("port: 6000\nhost: file-host\n");
    const config = await loadConfig({
      file,
      env: { REESTR_PORT: "7000", REESTR_LOG_LEVEL: "warn" },
      flags: { port: 8000, host: undefined, "log.level": "error", "storage.deleteEnabled": false },
    });
    assert.equal(config.port, 8000);
    assert.equal(config.host, "file-host");
    assert.equal(config.log.level, "error");
    assert.equal(config.storage.deleteEnabled, false);
  });

  test("boolean environment variables accept the usual spellings", async () => {
    for (const [raw, expected] of [
      ["1", true],
      ["true", true],
      ["YES", true],
      ["on", true],
      ["0", false],
      ["False", false],
      ["no", false],
      ["off", false],
    ] as const) {
      assert.equal((await loadConfig({ env: { REESTR_ACCESS_LOG: raw } })).log.accessLog, expected, raw);
    }
    await assert.rejects(
      loadConfig({ env: { REESTR_ACCESS_LOG: "maybe" } }),
      configError(/REESTR_ACCESS_LOG/),
    );
  });

  describe("errors name the field", () => {
    const cases: [string, string, RegExp[]][] = [
      ["port as a string", "port: abc\n", [/^\s*port: /m]],
      ["port out of range", "port: 70000\n", [/^\s*port: /m]],
      ["negative port", "port: -1\n", [/^\s*port: /m]],
      ["fractional port", "port: 50.5\n", [/^\s*port: /m]],
      ["empty host", 'host: ""\n', [/^\s*host: /m]],
      ["log.level", "log:\n  level: loud\n", [/^\s*log\.level: /m]],
      ["log.accessLog", "log:\n  accessLog: sometimes\n", [/^\s*log\.accessLog: /m]],
      ["storage.sync", "storage:\n  sync: sometimes\n", [/^\s*storage\.sync: /m]],
      ["storage.deleteEnabled", "storage:\n  deleteEnabled: 1\n", [/^\s*storage\.deleteEnabled: /m]],
      ["a bad duration", "storage:\n  uploadExpiry: 10 minutes\n", [/^\s*storage\.uploadExpiry: /m]],
      ["a negative duration", "shutdownTimeout: -5\n", [/^\s*shutdownTimeout: /m]],
      ["an unknown key", "prot: 5000\n", [/prot: unknown setting/]],
      ["an unknown nested key", "log:\n  lvl: debug\n", [/log\.lvl: unknown setting/]],
      ["an unknown storage key", "storage:\n  gcs: {}\n", [/storage\.gcs: unknown setting/]],
      ["a section that is not a mapping", "log: debug\n", [/^\s*log: /m]],
      [
        "several problems at once",
        "port: x\nprot: 1\nlog:\n  level: loud\n",
        [/^\s*port: /m, /prot: unknown/, /log\.level: /],
      ],
    ];
    for (const [label, yaml, patterns] of cases) {
      test(label, async () => {
        const file = await yamlFile(yaml);
        await assert.rejects(
          loadConfig({ file }),
          configError(...patterns, new RegExp(file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))),
        );
      });
    }

    test("bad values from flags and environment name the field too", async () => {
      await assert.rejects(loadConfig({ flags: { port: "abc" } }), configError(/^\s*port: /m));
      await assert.rejects(
        loadConfig({ env: { REESTR_LOG_LEVEL: "loud" } }),
        configError(/^\s*log\.level: /m),
      );
      await assert.rejects(
        loadConfig({ env: { REESTR_STORAGE_SYNC: "x" } }),
        configError(/^\s*storage\.sync: /m),
      );
      await assert.rejects(
        loadConfig({ env: { REESTR_STORAGE_RESERVE: "lots" } }),
        configError(/^\s*storage\.reserve: /m),
      );
      assert.equal(
        (await loadConfig({ env: { REESTR_STORAGE_RESERVE: "64MiB" } })).storage.reserve,
        64 * 1024 * 1024,
      );
      await assert.rejects(loadConfig({ env: { REESTR_PORT: "abc" } }), configError(/REESTR_PORT/));
    });

    test("invalid YAML names the file", async () => {
      const file = await yamlFile("port: [5000\nhost: x: y\n");
      await assert.rejects(loadConfig({ file }), configError(/not valid YAML/, /config-\d+\.yaml/));
    });

    test("YAML that is not a mapping names the file", async () => {
      for (const text of ["- port\n- 5000\n", "just a string\n", "42\n"]) {
        const file = await yamlFile(text);
        await assert.rejects(loadConfig({ file }), configError(/mapping/, /config-\d+\.yaml/), text);
      }
    });

    test("an unreadable file names the file", async () => {
      const missing = join(dir, "does-not-exist.yaml");
      await assert.rejects(loadConfig({ file: missing }), configError(/cannot read/, /does-not-exist\.yaml/));
      const directory = join(dir, "a-directory.yaml");
      await mkdir(directory);
      await assert.rejects(loadConfig({ file: directory }), configError(/cannot read/, /a-directory\.yaml/));
    });
  });

  describe("durations", () => {
    test("strings with units and plain numbers of seconds are accepted", async () => {
      for (const value of ["30s", "15m", "24h", "7d", "500ms", "1.5h", 90, 0]) {
        const config = await loadConfig({ flags: { shutdownTimeout: value, "storage.uploadExpiry": value } });
        assert.equal(config.shutdownTimeout, parseDuration(value));
        assert.equal(config.storage.uploadExpiry, parseDuration(value));
      }
    });

    test("parseDuration converts every unit, formatDuration writes the shortest exact text", () => {
      assert.equal(parseDuration("30s"), 30_000);
      assert.equal(parseDuration("15m"), 900_000);
      assert.equal(parseDuration("24h"), 86_400_000);
      assert.equal(parseDuration("7d"), 604_800_000);
      assert.equal(parseDuration("500ms"), 500);
      assert.equal(parseDuration("1.5h"), 5_400_000);
      assert.equal(parseDuration(90), 90_000);
      assert.equal(parseDuration(0.25), 250);
      assert.equal(parseDuration("2w"), 1_209_600_000);
      assert.throws(() => parseDuration("10 minutes"), /expected a duration/);
      assert.equal(formatDuration(90_000), "90s");
      assert.equal(formatDuration(86_400_000), "1d");
      assert.equal(formatDuration(1500), "1500ms");
      assert.equal(formatDuration(0), "0s");
    });

    test("malformed durations are refused with the field named", async () => {
      for (const value of ["10 minutes", "1y", "s", "-1s", "1.s", "", -1]) {
        await assert.rejects(
          loadConfig({ flags: { shutdownTimeout: value } }),
          configError(/^\s*shutdownTimeout: /m),
          JSON.stringify(value),
        );
      }
    });

    test("a duration from the environment may be a plain number of seconds, like in the file", async () => {
      const config = await loadConfig({
        env: { REESTR_SHUTDOWN_TIMEOUT: "10", REESTR_UPLOAD_EXPIRY: "3600" },
      });
      assert.equal(config.shutdownTimeout, 10_000);
      assert.equal(config.storage.uploadExpiry, 3_600_000);
    });

    test("durations from the environment with units", async () => {
      const config = await loadConfig({ env: { REESTR_SHUTDOWN_TIMEOUT: "5s", REESTR_UPLOAD_EXPIRY: "2h" } });
      assert.equal(config.shutdownTimeout, 5_000);
      assert.equal(config.storage.uploadExpiry, 7_200_000);
    });
  });
});

describe("reestr CLI (child process)", () => {
  const node =
    Number(process.versions.node.split(".")[0]) === 24
      ? process.execPath
      : join(REPO_ROOT, "node_modules/.bin/node");
  const bin = join(REPO_ROOT, "bin", "reestr.js");
  // A clean environment: no REESTR_* setting from the outside may change the outcome.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("REESTR_")));

  function reestr(
    args: string[],
    extraEnv: Record<string, string> = {},
  ): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
    return new Promise((resolvePromise) => {
      // The timeout only guards against a server that starts by mistake; no assertion depends on time.
      execFile(
        node,
        [bin, ...args],
        { cwd: dir, env: { ...env, ...extraEnv }, timeout: 60_000, killSignal: "SIGKILL" },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
          resolvePromise({ code, signal: error?.signal ?? null, stdout, stderr });
        },
      );
    });
  }

  test("serve --port abc exits 2 and names --port", async () => {
    const result = await reestr(["serve", "--port", "abc", "--data", join(dir, "cli-data")]);
    assert.equal(result.signal, null, "the server must not start");
    assert.match(result.stderr, /--port/);
    assert.equal(result.code, 2, `exit code (stderr: ${result.stderr})`);
  });

  test("serve on a port already in use exits 2 and says to choose another with --port", async () => {
    const taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    try {
      const port = String((taken.address() as AddressInfo).port);
      const result = await reestr(["serve", "--port", port, "--data", join(dir, "cli-data-taken")]);
      assert.equal(result.code, 2, `exit code (stderr: ${result.stderr})`);
      assert.match(result.stderr, new RegExp(`127\\.0\\.0\\.1:${port} is already in use.*--port`));
    } finally {
      taken.close();
    }
  });

  test("serve --port 70000 exits 2 and names port", async () => {
    const result = await reestr(["serve", "--port", "70000", "--data", join(dir, "cli-data")]);
    assert.equal(result.code, 2, `exit code (stderr: ${result.stderr})`);
    assert.match(result.stderr, /port/);
  });

  test("serve --config with a bad value exits 2 and names the field", async () => {
    const file = await yamlFile("port: abc\nlog:\n  level: loud\n");
    const result = await reestr(["serve", "--config", file, "--data", join(dir, "cli-data")]);
    assert.equal(result.code, 2, `exit code (stderr: ${result.stderr})`);
    assert.match(result.stderr, /^\s*port: /m);
    assert.match(result.stderr, /log\.level: /);
  });

  test("serve --config with an unknown key exits 2 and names it as an unknown setting", async () => {
    const file = await yamlFile("prot: 5000\n");
    const result = await reestr(["serve", "--config", file, "--data", join(dir, "cli-data")]);
    assert.equal(result.code, 2, `exit code (stderr: ${result.stderr})`);
    assert.match(result.stderr, /prot: unknown setting/);
  });

  test("REESTR_CONFIG pointing at a missing file exits 2 and names it", async () => {
    const result = await reestr(["serve", "--data", join(dir, "cli-data")], {
      REESTR_CONFIG: join(dir, "missing.yaml"),
    });
    assert.equal(result.code, 2, `exit code (stderr: ${result.stderr})`);
    assert.match(result.stderr, /missing\.yaml/);
  });

  test("a bad environment variable exits 2 and names it", async () => {
    const result = await reestr(["serve", "--data", join(dir, "cli-data")], { REESTR_PORT: "abc" });
    assert.equal(result.code, 2, `exit code (stderr: ${result.stderr})`);
    assert.match(result.stderr, /REESTR_PORT/);
  });

  test("an unknown serve option exits 2", async () => {
    const result = await reestr(["serve", "--bogus"]);
    assert.equal(result.code, 2, `exit code (stderr: ${result.stderr})`);
    assert.match(result.stderr, /--bogus/);
  });

  test("reestr --help lists the commands", async () => {
    const result = await reestr(["--help"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /Usage: reestr <command>/);
    assert.match(result.stdout, /^\s+serve\s+\S/m);
    for (const name of ["status", "list", "push", "pull"]) {
      // Commands land as their modules do; every one that exists must be listed.
      if (existsSync(join(REPO_ROOT, "src", "cli", `${name}.ts`))) {
        assert.match(result.stdout, new RegExp(`^\\s+${name}\\s+\\S`, "m"), name);
      }
    }
  });

  test("reestr serve --help shows its options", async () => {
    const result = await reestr(["serve", "--help"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /Usage: reestr serve/);
    for (const option of ["--host", "--port", "--data", "--config"])
      assert.ok(result.stdout.includes(option), option);
    for (const variable of ["REESTR_HOST", "REESTR_PORT", "REESTR_DATA"]) {
      assert.ok(result.stdout.includes(variable), variable);
    }
  });

  test("an unknown command exits 2 and names it", async () => {
    const result = await reestr(["frobnicate"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /frobnicate/);
  });
});
