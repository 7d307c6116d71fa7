/**
 * The `quotas` and `immutableTags` sections as read from a config file: sizes and patterns
 * parsed, and every mistake a ConfigError naming its field (`immutableTags[0].tags: …`).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ConfigError, loadConfig } from "../../src/config/config.ts";
import { ByteSize, formatByteSize, formatBytes, parseByteSize } from "../../src/util/size.ts";

let dir: string;
let counter = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-policy-config-"));
});
after(() => rm(dir, { recursive: true, force: true }));

async function load(yaml: string) {
  const file = join(dir, `config-${counter++}.yaml`);
  await writeFile(file, yaml);
  return loadConfig({ file });
}

async function assertProblem(yaml: string, pattern: RegExp): Promise<void> {
  await assert.rejects(load(yaml), (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  });
}

describe("byte sizes", () => {
  test("numbers of bytes and texts with decimal or binary units", () => {
    assert.equal(parseByteSize(0), 0);
    assert.equal(parseByteSize(1234), 1234);
    assert.equal(parseByteSize("1234"), 1234);
    assert.equal(parseByteSize("500MiB"), 500 * 2 ** 20);
    assert.equal(parseByteSize("10 GiB"), 10 * 2 ** 30);
    assert.equal(parseByteSize("10GB"), 10e9);
    assert.equal(parseByteSize("1.5kB"), 1500);
    assert.equal(parseByteSize("2tib"), 2 * 2 ** 40);
    assert.equal(parseByteSize("7B"), 7);
    for (const bad of ["10 parsecs", "GiB", "-1MiB", "1,5GB", "", "1e3"]) {
      assert.throws(() => parseByteSize(bad), /expected a size/, bad);
    }
    assert.throws(() => parseByteSize(-1), /expected a size/);
    assert.throws(() => parseByteSize(1.5), /expected a size/);
    assert.throws(() => parseByteSize("99999999PB"), /too large/);
  });

  test("written back in the shortest exact form, and for people in binary units", () => {
    assert.equal(formatByteSize(10 * 2 ** 30), "10GiB");
    assert.equal(formatByteSize(5e6), "5MB");
    assert.equal(formatByteSize(1234), "1234B");
    assert.equal(formatByteSize(0), "0B");
    assert.equal(ByteSize.encode(2 ** 20), "1MiB");
    assert.equal(ByteSize.parse("1MiB"), 2 ** 20);
    assert.equal(formatBytes(9.8 * 2 ** 30), "9.8 GiB");
    assert.equal(formatBytes(300 * 2 ** 20), "300 MiB");
    assert.equal(formatBytes(10 * 2 ** 30), "10 GiB");
    assert.equal(formatBytes(1023), "1023 B");
    assert.equal(formatBytes(1536), "1.5 KiB");
  });
});

describe("quotas and immutableTags in the config file", () => {
  test("parsed: sizes in bytes; both sections absent by default", async () => {
    const config = await load(`
quotas:
  - repositories: "team-a/**"
    limit: 10GiB
  - repositories: single
    limit: 1000
immutableTags:
  - repositories: "prod/**"
    tags: '^v\\d+\\.\\d+\\.\\d+$'
`);
    assert.deepEqual(config.quotas, [
      { repositories: "team-a/**", limit: 10 * 2 ** 30 },
      { repositories: "single", limit: 1000 },
    ]);
    assert.deepEqual(config.immutableTags, [{ repositories: "prod/**", tags: "^v\\d+\\.\\d+\\.\\d+$" }]);
    const empty = await load("port: 5000\n");
    assert.equal(empty.quotas, undefined);
    assert.equal(empty.immutableTags, undefined);
  });

  test("an invalid tag pattern is refused at load time, naming the field", async () => {
    await assertProblem(
      `immutableTags:\n  - repositories: "prod/**"\n    tags: "^v(\\\\d+"\n`,
      /^\s*immutableTags\[0\]\.tags: invalid regular expression: /m,
    );
    await assertProblem(
      `immutableTags:\n  - repositories: "prod/**"\n    tags: ""\n`,
      /immutableTags\[0\]\.tags: /,
    );
  });

  test("a bad size, a bad glob, a duplicate scope and an unknown setting are refused, naming the field", async () => {
    await assertProblem(
      `quotas:\n  - repositories: "a/**"\n    limit: 10 parsecs\n`,
      /^\s*quotas\[0\]\.limit: expected a size such as "500MiB"/m,
    );
    await assertProblem(`quotas:\n  - repositories: "a/**"\n    limit: -5\n`, /quotas\[0\]\.limit: /);
    await assertProblem(
      `quotas:\n  - repositories: "A/**"\n    limit: 1GiB\n`,
      /quotas\[0\]\.repositories: invalid repository glob/,
    );
    await assertProblem(`quotas:\n  - repositories: "a/**"\n`, /quotas\[0\]\.limit: /);
    await assertProblem(
      `quotas:\n  - repositories: "a/**"\n    limit: 1GiB\n  - repositories: "a/**"\n    limit: 2GiB\n`,
      /quotas\[1\]\.repositories: "a\/\*\*" already has a quota \(quotas\[0\]\)/,
    );
    await assertProblem(
      `quotas:\n  - repositories: "a/**"\n    limit: 1GiB\n    soft: true\n`,
      /quotas\[0\]\.soft: unknown setting/,
    );
    await assertProblem(
      `immutableTags:\n  - repositories: "Prod"\n    tags: x\n`,
      /immutableTags\[0\]\.repositories: invalid repository glob/,
    );
  });
});
