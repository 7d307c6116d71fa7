/**
 * Immutable tag rules over the /v2 API and the catalogue's delete endpoints of a real server:
 * the first push of a covered tag is allowed and so is pushing the same manifest again; pushing
 * other content under it, deleting it, or deleting the manifest it points at is refused with
 * 403 DENIED naming the rule, and nothing changes. Tags no rule covers (another pattern, another
 * repository) move and delete as usual.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { assertError, http, pushImage, putManifest, startServer, type TestServer } from "./helpers.ts";

const RELEASE = "^v\\d+\\.\\d+\\.\\d+$";

let server: TestServer;

before(async () => {
  server = await startServer({
    config: {
      immutableTags: [
        { repositories: "prod/**", tags: RELEASE },
        { repositories: "base", tags: "^stable$" },
      ],
    },
  });
});

after(() => server.cleanup());

async function digestOfTag(repo: string, tag: string): Promise<string | undefined> {
  const res = await http(server, "HEAD", `/v2/${repo}/manifests/${tag}`);
  return res.status === 200 ? res.header("docker-content-digest") : undefined;
}

describe("immutable tags", () => {
  test("the first push of a covered tag is allowed, a second one of the same manifest too", async () => {
    const image = await pushImage(server, "prod/app", "v1.2.3");
    const again = await putManifest(server, "prod/app", "v1.2.3", image.bytes, image.mediaType);
    assert.equal(again.status, 201, again.text());
    assert.equal(await digestOfTag("prod/app", "v1.2.3"), image.digest);
  });

  test("pushing other content under a covered tag is refused naming the tag and the rule", async () => {
    const first = await pushImage(server, "prod/app", "v2.0.0");
    const other = await pushImage(server, "prod/app", undefined);
    const res = await putManifest(server, "prod/app", "v2.0.0", other.bytes, other.mediaType);
    const [error] = assertError(res, 403, "DENIED");
    assert.equal(
      error!.message,
      `tag v2.0.0 of prod/app is immutable (rule immutableTags[0]: prod/** ${RELEASE}) and cannot be overwritten`,
    );
    assert.deepEqual(error!.detail, {
      repository: "prod/app",
      tag: "v2.0.0",
      rule: "immutableTags[0]",
      repositories: "prod/**",
      tags: RELEASE,
    });
    assert.equal(await digestOfTag("prod/app", "v2.0.0"), first.digest);
  });

  test("tags the rules do not cover move as usual: another pattern, another repository", async () => {
    await pushImage(server, "prod/app", "latest");
    const moved = await pushImage(server, "prod/app", "latest");
    assert.equal(await digestOfTag("prod/app", "latest"), moved.digest);
    // Not a release tag (the pattern is anchored): v1.2.3-rc1, xv1.2.3.
    for (const tag of ["v1.2.3-rc1", "xv1.2.3"]) {
      await pushImage(server, "prod/app", tag);
      await pushImage(server, "prod/app", tag);
    }
    // The same tag outside prod/**.
    await pushImage(server, "dev/app", "v1.2.3");
    const dev = await pushImage(server, "dev/app", "v1.2.3");
    assert.equal(await digestOfTag("dev/app", "v1.2.3"), dev.digest);
    // The second rule covers `stable` of `base` only, not of base/child.
    await pushImage(server, "base", "stable");
    assertError(
      await putManifest(
        server,
        "base",
        "stable",
        (await pushImage(server, "base", undefined)).bytes,
        undefined,
      ),
      403,
      "DENIED",
    );
    await pushImage(server, "base/child", "stable");
    await pushImage(server, "base/child", "stable");
  });

  test("deleting a covered tag is refused; an unknown one is MANIFEST_UNKNOWN", async () => {
    const image = await pushImage(server, "prod/del", "v3.0.0");
    const [error] = assertError(await http(server, "DELETE", "/v2/prod/del/manifests/v3.0.0"), 403, "DENIED");
    assert.match(
      error!.message,
      /^tag v3\.0\.0 of prod\/del is immutable \(rule immutableTags\[0\]: .*\) and cannot be deleted$/,
    );
    assert.equal(await digestOfTag("prod/del", "v3.0.0"), image.digest);
    assertError(await http(server, "DELETE", "/v2/prod/del/manifests/v9.9.9"), 404, "MANIFEST_UNKNOWN");
    // A tag no rule covers deletes as usual.
    await pushImage(server, "prod/del", "scratch");
    assert.equal((await http(server, "DELETE", "/v2/prod/del/manifests/scratch")).status, 202);
  });

  test("deleting by digest a manifest a covered tag points at is refused; other manifests delete", async () => {
    const tagged = await pushImage(server, "prod/digest", "v4.0.0");
    await putManifest(server, "prod/digest", "also-latest", tagged.bytes, tagged.mediaType);
    const [error] = assertError(
      await http(server, "DELETE", `/v2/prod/digest/manifests/${tagged.digest}`),
      403,
      "DENIED",
    );
    assert.match(
      error!.message,
      /^tag v4\.0\.0 of prod\/digest is immutable .* cannot be deleted with its manifest$/,
    );
    assert.equal(await digestOfTag("prod/digest", "v4.0.0"), tagged.digest);
    assert.equal(await digestOfTag("prod/digest", "also-latest"), tagged.digest);

    const loose = await pushImage(server, "prod/digest", "nightly");
    assert.equal((await http(server, "DELETE", `/v2/prod/digest/manifests/${loose.digest}`)).status, 202);
    assert.equal(await digestOfTag("prod/digest", "nightly"), undefined);
  });

  test("the catalogue's delete endpoints are refused the same way (403 FORBIDDEN)", async () => {
    const image = await pushImage(server, "prod/ui", "v5.0.0");
    const name = encodeURIComponent("prod/ui");
    const tag = await http(server, "DELETE", `/api/registries/local/repositories/${name}/tags/v5.0.0`);
    assert.equal(tag.status, 403, tag.text());
    const body = tag.json<{ error: { code: string; message: string } }>();
    assert.equal(body.error.code, "FORBIDDEN");
    assert.match(body.error.message, /immutable \(rule immutableTags\[0\]/);
    const manifest = await http(
      server,
      "DELETE",
      `/api/registries/local/repositories/${name}/manifests/${encodeURIComponent(image.digest)}`,
    );
    assert.equal(manifest.status, 403, manifest.text());
    assert.equal(await digestOfTag("prod/ui", "v5.0.0"), image.digest);
  });

  test("concurrent first pushes of one covered tag: one wins, the other is refused", async () => {
    const images = [
      await pushImage(server, "prod/race", undefined),
      await pushImage(server, "prod/race", undefined),
    ];
    const answers = await Promise.all(
      images.map((image) => putManifest(server, "prod/race", "v6.0.0", image.bytes, image.mediaType)),
    );
    assert.deepEqual(answers.map((res) => res.status).sort(), [201, 403]);
    const winner = images[answers.findIndex((res) => res.status === 201)]!;
    assert.equal(await digestOfTag("prod/race", "v6.0.0"), winner.digest);
  });
});
