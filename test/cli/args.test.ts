import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatBytes, parseTarget, registryUrl } from "../../src/cli/args.ts";
import { createProgress, progressMode } from "../../src/cli/progress.ts";

describe("registry URL and reference parsing", () => {
  const env = {};
  it("defaults to the local registry, REESTR_URL overrides", () => {
    assert.equal(registryUrl(undefined, env), "http://127.0.0.1:5000");
    assert.equal(
      registryUrl(undefined, { REESTR_URL: "https://reg.example:8443/" }),
      "https://reg.example:8443",
    );
    assert.equal(registryUrl("localhost:5001", env), "http://localhost:5001");
    assert.equal(registryUrl("reg.example", env), "https://reg.example");
  });

  it("splits [host/]repo[:tag][@digest]", () => {
    const digest = `sha256:${"a".repeat(64)}`;
    assert.deepEqual(parseTarget("team/app:1.0", { env }), {
      url: "http://127.0.0.1:5000",
      repository: "team/app",
      tag: "1.0",
      digest: undefined,
    });
    assert.deepEqual(parseTarget(`127.0.0.1:5001/app@${digest}`, { env }), {
      url: "http://127.0.0.1:5001",
      repository: "app",
      tag: undefined,
      digest,
    });
    assert.equal(parseTarget("reg.example/team/app", { env }).url, "https://reg.example");
    assert.equal(parseTarget("reg.example/team/app", { env, insecure: true }).url, "http://reg.example");
    assert.equal(parseTarget("https://localhost:5443/app:x", { env }).url, "https://localhost:5443");
    // The host of REESTR_URL keeps that URL's scheme.
    assert.equal(
      parseTarget("reg.example:8443/app", { env: { REESTR_URL: "https://reg.example:8443" } }).url,
      "https://reg.example:8443",
    );
    // Without a dot, colon or "localhost" the first component is part of the repository.
    assert.equal(
      parseTarget("team/app", { env: { REESTR_URL: "http://10.0.0.1:5000" } }).url,
      "http://10.0.0.1:5000",
    );
    assert.throws(() => parseTarget("Team/App", { env }), /invalid repository name/);
    assert.throws(() => parseTarget("app:bad tag", { env }), /invalid tag/);
  });

  it("formats byte counts", () => {
    assert.equal(formatBytes(512), "512 B");
    assert.equal(formatBytes(1536), "1.5 KiB");
    assert.equal(formatBytes(3 * 1024 * 1024), "3 MiB");
  });
});

describe("progress", () => {
  it("picks bars on a terminal, lines in logs, nothing for --json logs", () => {
    assert.equal(progressMode({ isTTY: true }, false), "bars");
    assert.equal(progressMode({ isTTY: false }, false), "lines");
    assert.equal(progressMode({}, true), "none");
  });

  it("draws a bar per blob in flight and a total, redrawing in place", () => {
    let text = "";
    let now = 0;
    const out = { write: (s: string) => (text += s), columns: 100 };
    const progress = createProgress("bars", "push", out, () => now);
    progress.onEvent({ type: "plan", blobs: 2, bytes: 2048, manifests: 1 });
    progress.onEvent({ type: "blob-start", digest: `sha256:${"1".repeat(64)}`, size: 1024, mediaType: "x" });
    now = 1000;
    progress.onEvent({ type: "blob-progress", digest: `sha256:${"1".repeat(64)}`, bytes: 512, size: 1024 });
    assert.match(text, /111111111111 \[=+> +\] 512 B \/ 1 KiB/);
    assert.match(text, /Pushing 0\/2 blobs .* 512 B \/ 2 KiB {2}512 B\/s/);
    now = 2000;
    progress.onEvent({
      type: "blob-done",
      digest: `sha256:${"1".repeat(64)}`,
      size: 1024,
      result: "uploaded",
    });
    progress.finish();
    assert.ok(/\[\d+A/.test(text.replaceAll("\u001b", "")), "moved the cursor up to redraw");
    assert.match(text, /Pushing 1\/2 blobs .* 1 KiB \/ 2 KiB/);
  });

  it("writes one line per finished blob and manifest when not on a terminal", () => {
    let text = "";
    const progress = createProgress("lines", "pull", { write: (s: string) => (text += s) });
    progress.onEvent({
      type: "blob-done",
      digest: `sha256:${"2".repeat(64)}`,
      size: 10,
      result: "downloaded",
    });
    progress.onEvent({ type: "blob-done", digest: `sha256:${"3".repeat(64)}`, size: 10, result: "skipped" });
    progress.onEvent({ type: "manifest", digest: "sha256:x", mediaType: "m", size: 1, reference: "v1" });
    assert.equal(
      text,
      "blob 222222222222 10 B: pulled\nblob 333333333333 10 B: already present\nmanifest sha256:x (m) as v1\n",
    );
  });
});
