/**
 * `storage.s3` in the configuration: defaults, errors that name the field, the secrets from
 * REESTR_S3_ACCESS_KEY / REESTR_S3_SECRET_KEY (only with the section), and secrets kept out of
 * error messages and logs. No S3 is needed here; test/api/s3-storage.test.ts runs the store.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ConfigError, loadConfig } from "../../src/config/config.ts";
import { JsonLogger } from "../../src/util/logger.ts";

let dir: string;
let files = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-s3-config-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(yaml: string, env: NodeJS.ProcessEnv = {}) {
  const file = join(dir, `config-${files++}.yaml`);
  await writeFile(file, yaml);
  return loadConfig({ file, env });
}

function configError(...patterns: RegExp[]): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  };
}

const SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY";

describe("storage.s3 configuration", () => {
  test("a bucket alone is enough; the rest has defaults", async () => {
    const config = await load("storage:\n  s3:\n    bucket: reestr\n");
    assert.deepEqual(config.storage.s3, {
      bucket: "reestr",
      region: "us-east-1",
      prefix: "",
      forcePathStyle: false,
      redirect: false,
      redirectExpiry: 20 * 60 * 1000,
      partSize: 8 * 1024 * 1024,
    });
    assert.equal((await load("port: 5000\n")).storage.s3, undefined, "no section: blobs on the filesystem");
  });

  test("every field is read, and the prefix loses its slashes", async () => {
    const config = await load(
      [
        "storage:",
        "  s3:",
        "    endpoint: http://127.0.0.1:7480",
        "    region: eu-west-1",
        "    bucket: my.registry-bucket",
        "    prefix: /team/registry/",
        "    forcePathStyle: true",
        "    accessKeyId: AKIAEXAMPLE",
        `    secretAccessKey: ${SECRET}`,
        "    redirect: true",
        "    redirectExpiry: 1h",
        "    partSize: 16MiB",
        "",
      ].join("\n"),
    );
    assert.deepEqual(config.storage.s3, {
      endpoint: "http://127.0.0.1:7480",
      region: "eu-west-1",
      bucket: "my.registry-bucket",
      prefix: "team/registry",
      forcePathStyle: true,
      accessKeyId: "AKIAEXAMPLE",
      secretAccessKey: SECRET,
      redirect: true,
      redirectExpiry: 60 * 60 * 1000,
      partSize: 16 * 1024 * 1024,
    });
  });

  test("errors name the field", async () => {
    const s3 = (lines: string) => load(`storage:\n  s3:\n${lines}`);
    await assert.rejects(s3("    region: x\n"), configError(/storage\.s3\.bucket/));
    await assert.rejects(
      s3("    bucket: Not_A_Bucket\n"),
      configError(/storage\.s3\.bucket: expected an S3 bucket name/),
    );
    await assert.rejects(
      s3("    bucket: b12\n    endpoint: ftp://example.com\n"),
      configError(/storage\.s3\.endpoint: expected an http/),
    );
    await assert.rejects(s3("    bucket: b12\n    prefix: a/../b\n"), configError(/storage\.s3\.prefix/));
    await assert.rejects(
      s3("    bucket: b12\n    partSize: 1MiB\n"),
      configError(/storage\.s3\.partSize: must be between 5MiB/),
    );
    await assert.rejects(
      s3("    bucket: b12\n    redirectExpiry: 8d\n"),
      configError(/storage\.s3\.redirectExpiry/),
    );
    await assert.rejects(
      s3("    bucket: b12\n    secret: x\n"),
      configError(/storage\.s3\.secret: unknown setting/),
    );
    await assert.rejects(
      s3("    bucket: b12\n    accessKeyId: AKIAEXAMPLE\n"),
      configError(/storage\.s3\.secretAccessKey: required with accessKeyId/),
    );
    await assert.rejects(
      s3(`    bucket: b12\n    secretAccessKey: ${SECRET}\n`),
      configError(/storage\.s3\.accessKeyId: required with secretAccessKey/),
    );
  });

  test("REESTR_S3_ACCESS_KEY and REESTR_S3_SECRET_KEY give the credentials, only when the section is there", async () => {
    const env = { REESTR_S3_ACCESS_KEY: "AKIAFROMENV", REESTR_S3_SECRET_KEY: SECRET };
    const config = await load("storage:\n  s3:\n    bucket: reestr\n    accessKeyId: AKIAFILE\n", env);
    assert.equal(config.storage.s3?.accessKeyId, "AKIAFROMENV", "the environment overrides the file");
    assert.equal(config.storage.s3?.secretAccessKey, SECRET);
    // Secrets in the environment of a server that stores blobs on disk configure nothing.
    assert.equal((await load("port: 5000\n", env)).storage.s3, undefined);
  });

  test("a secret is in no error message and no log line", async () => {
    await assert.rejects(
      load(
        `storage:\n  s3:\n    bucket: Bad_Bucket\n    accessKeyId: AKIAEXAMPLE\n    secretAccessKey: ${SECRET}\n`,
      ),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.ok(!error.message.includes(SECRET), error.message);
        return true;
      },
    );
    const config = await load(
      `storage:\n  s3:\n    bucket: reestr\n    accessKeyId: AKIAEXAMPLE\n    secretAccessKey: ${SECRET}\n`,
    );
    const chunks: string[] = [];
    const logger = new JsonLogger({ level: "info", sink: { write: (chunk: string) => chunks.push(chunk) } });
    logger.info("configuration", { storage: config.storage });
    logger.flush();
    const line = chunks.join("");
    assert.ok(line.includes('"bucket":"reestr"'), line);
    assert.ok(!line.includes(SECRET), `the secret was logged: ${line}`);
  });
});
