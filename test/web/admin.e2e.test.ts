/**
 * The admin area in chromium, against in-process `reestr serve`s: garbage collection with a
 * grace period of 0 (a dry run listing the blobs of a deleted manifest, a confirmed collection
 * whose run shows in the history with the bytes it freed, the blobs gone from /v2; a run held in
 * one phase, followed by the page until it ends), the scrub
 * finding a blob corrupted on disk, and — on a server with users — the Admin entry shown to the
 * administrator only, the pages telling anyone else they need one. Every view is checked with
 * axe-core.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { hashPassword, writeHtpasswd } from "../../src/auth/htpasswd.ts";
import type { Digest } from "../../src/oci/digest.ts";
import { blobPath } from "../../src/registry/layout.ts";
import type { GcRun } from "../../src/registry/lifecycle/gc-service.ts";
import { FsBlobStore } from "../../src/registry/storage/fs-blob-store.ts";
import { http, type PushedImage, pushImage, startServer, type TestServer } from "../api/helpers.ts";
import {
  type Browser,
  CHROMIUM,
  describeViolations,
  ensureWebBuilt,
  launchBrowser,
  runAxe,
  screenshot,
} from "./helpers.ts";

const missing = [CHROMIUM].filter((tool) => !existsSync(tool));
const USERS = { boss: "boss-pass", reader: "reader-pass" };

/**
 * The open server's blob store, whose listing can be held: a gc run then stays in its "sweeping
 * stray files" phase until the test lets it go, so the page's following of a run is seen
 * without depending on how fast the run is.
 */
class HoldableBlobStore extends FsBlobStore {
  held: PromiseWithResolvers<void> | undefined;

  override async *list(): AsyncIterable<Digest> {
    await this.held?.promise;
    yield* super.list();
  }
}

let dir: string;
let storeDir: string;
let store: HoldableBlobStore;
let open: TestServer;
let secured: TestServer;
let browser: Browser;
let page: Page;
let kept: PushedImage;
let gone: PushedImage;

async function checkView(name: string): Promise<void> {
  await screenshot(page, name);
  const violations = await runAxe(page);
  assert.deepEqual(
    violations.map((v) => v.id),
    [],
    `axe on ${name}:\n${describeViolations(violations)}`,
  );
}

/** The blob digests of an image: its config and layers. */
const blobsOf = (image: PushedImage) => [image.config.digest, ...image.layers.map((layer) => layer.digest)];

/** Loads `path` and waits for the header's admin check (GET /api/admin/gc) to be answered. */
async function gotoAndCheckAdmin(base: string, path: string): Promise<number> {
  const answer = page.waitForResponse(
    (res) => new URL(res.url()).pathname === "/api/admin/gc" && res.request().method() === "GET",
  );
  await page.goto(`${base}${path}`);
  return (await answer).status();
}

before(async () => {
  if (missing.length > 0) return;
  await ensureWebBuilt();
  dir = await mkdtemp(join(tmpdir(), "reestr-web-admin-"));
  const htpasswd = join(dir, "htpasswd");
  await writeHtpasswd(
    htpasswd,
    new Map(
      await Promise.all(
        Object.entries(USERS).map(async ([user, pass]) => [user, await hashPassword(pass, 4)] as const),
      ),
    ),
  );
  storeDir = join(dir, "store");
  store = await new HoldableBlobStore(storeDir).init();
  [open, secured] = await Promise.all([
    startServer({ config: { gc: { gracePeriod: "0s" } }, blobs: store }),
    startServer({
      auth: {
        htpasswd,
        rules: [
          { subjects: ["user:boss"], repositories: ["**"], actions: ["admin"] },
          { subjects: ["user:reader"], repositories: ["**"], actions: ["pull"] },
        ],
      },
    }),
  ]);
  kept = await pushImage(open, "team/kept", "latest");
  gone = await pushImage(open, "team/gone", "latest");
  const deleted = await http(open, "DELETE", `/v2/team/gone/manifests/${gone.digest}`);
  assert.equal(deleted.status, 202, deleted.text());
  browser = await launchBrowser();
  page = browser.page;
});

after(async () => {
  await browser?.close();
  await Promise.all([open?.cleanup(), secured?.cleanup()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the admin pages in chromium", {
  timeout: 180_000,
  skip: missing.length > 0 ? `not installed: ${missing.join(", ")}` : false,
}, () => {
  it("links the admin pages from the header, for an administrator", async () => {
    assert.equal(await gotoAndCheckAdmin(open.url, "/"), 200);
    const nav = page.getByRole("navigation", { name: "Main" });
    await nav.getByRole("link", { name: "Admin" }).click();
    await page.waitForURL(`${open.url}/admin`);
    await page.getByRole("heading", { level: 1, name: "Administration" }).waitFor();
    assert.equal(await nav.getByRole("link", { name: "Admin" }).getAttribute("aria-current"), "page");
    for (const [name, path] of [
      ["Garbage collection", "/admin/gc"],
      ["Integrity", "/admin/scrub"],
      ["Retention", "/admin/retention"],
      ["Quotas", "/storage"],
    ]) {
      assert.equal(await page.getByRole("main").getByRole("link", { name }).getAttribute("href"), path, name);
    }
    await page.getByText("No run since the server started.").first().waitFor();
    await checkView("admin-overview");
  });

  it("dry-runs garbage collection, then collects after a confirmation showing the figures", async () => {
    await page.getByRole("main").getByRole("link", { name: "Garbage collection" }).click();
    await page.getByRole("heading", { level: 1, name: "Garbage collection" }).waitFor();
    const facts = page.locator("dl.facts");
    assert.match(await facts.innerText(), /Grace period\s+0s/);
    assert.match(await facts.innerText(), /Untagged manifests\s+kept/);
    assert.match(await facts.innerText(), /Schedule\s+only when asked/);
    const adminNav = page.getByRole("navigation", { name: "Administration" });
    assert.equal(
      await adminNav.getByRole("link", { name: "Garbage collection" }).getAttribute("aria-current"),
      "page",
    );
    await checkView("gc");

    await page.getByRole("button", { name: "Dry run" }).click();
    await page.getByRole("heading", { level: 2, name: /^Dry run #1/ }).waitFor();
    const blobs = page.getByRole("table", { name: /Blobs that would be deleted/ });
    await blobs.waitFor();
    const listed = (await blobs.locator("tbody th").allInnerTexts()).map((text) => text.trim());
    for (const digest of blobsOf(gone)) assert.ok(listed.includes(digest), `${digest} in ${listed}`);
    for (const digest of blobsOf(kept)) assert.ok(!listed.includes(digest), `${digest} kept`);
    assert.match(
      await page.getByRole("status").filter({ hasText: "Would free" }).innerText(),
      new RegExp(`Would free .*: ${listed.length} blobs`),
    );
    // Nothing went: the dry run changed nothing.
    for (const digest of blobsOf(gone)) {
      assert.equal((await http(open, "HEAD", `/v2/team/gone/blobs/${digest}`)).status, 200);
    }
    await checkView("gc-dry-run");

    await page.getByRole("button", { name: "Collect now" }).click();
    const dialog = page.getByRole("dialog", { name: "Collect garbage now?" });
    await dialog.waitFor();
    assert.match(await dialog.innerText(), new RegExp(`A dry run just found ${listed.length} blobs`));
    await checkView("gc-confirm");
    await dialog.getByRole("button", { name: "Collect now" }).click();
    await page.getByRole("heading", { level: 2, name: /^Collection #3/ }).waitFor();
    await page.getByRole("status").filter({ hasText: "Freed" }).waitFor();
    assert.match(
      await page.getByRole("table", { name: /Blobs deleted/ }).innerText(),
      new RegExp(gone.layers[0]!.digest),
    );

    const history = page.getByRole("table", { name: /Last garbage-collection runs/ });
    const rows = history.locator("tbody tr");
    assert.equal(await rows.count(), 3);
    const newest = (await rows.first().locator("th, td").allInnerTexts()).map((text) => text.trim());
    const columns = (await history.locator("thead th").allInnerTexts()).map((text) => text.trim());
    const cell = (name: string) => newest[columns.indexOf(name)]!;
    assert.equal(cell("Kind"), "collection");
    assert.equal(cell("Trigger"), "on request");
    assert.equal(cell("Blobs"), String(listed.length));
    assert.match(cell("Status"), /succeeded/);
    assert.match(cell("Bytes freed"), /^\d+(\.\d+)? (B|KiB)$/);
    assert.notEqual(cell("Bytes freed"), "0 B");
    const [run] = (await http(open, "GET", "/api/admin/gc")).json<{ runs: GcRun[] }>().runs;
    assert.ok(run!.removed!.bytesFreed > 0);
    await checkView("gc-collected");

    for (const digest of blobsOf(gone)) {
      assert.equal((await http(open, "GET", `/v2/team/gone/blobs/${digest}`)).status, 404, digest);
    }
    for (const digest of blobsOf(kept)) {
      assert.equal((await http(open, "HEAD", `/v2/team/kept/blobs/${digest}`)).status, 200, digest);
    }
  });

  it("follows a run in progress: its phase, asked again once a second, until it ends", async () => {
    store.held = Promise.withResolvers<void>();
    try {
      await page.getByRole("button", { name: "Dry run" }).click();
      const progress = page.getByRole("status").filter({ hasText: "Dry run #4 running since" });
      // The POST answered in the first phase: only asking again shows the later one.
      await progress.filter({ hasText: "sweeping stray files" }).waitFor();
      assert.equal(await page.getByRole("button", { name: "Dry run" }).isDisabled(), true);
      assert.equal(await page.getByRole("button", { name: "Collect now" }).isDisabled(), true);
      const newest = page
        .getByRole("table", { name: /Last garbage-collection runs/ })
        .locator("tbody tr")
        .first();
      assert.match(await newest.innerText(), /running sweeping stray files/);
      await checkView("gc-running");
    } finally {
      store.held.resolve();
      store.held = undefined;
    }
    await page.getByRole("status").filter({ hasText: "Would free 0 B: nothing to remove" }).waitFor();
    assert.equal(await page.getByRole("status").filter({ hasText: "running since" }).count(), 0);
    assert.equal(await page.getByRole("button", { name: "Dry run" }).isDisabled(), false);
  });

  it("scrubs and lists a blob corrupted on disk", async () => {
    const layer = kept.layers[0]!.digest as Digest;
    const path = blobPath(storeDir, layer);
    const bytes = await readFile(path);
    bytes[0] = bytes[0]! ^ 0xff;
    await writeFile(path, bytes);

    await page
      .getByRole("navigation", { name: "Administration" })
      .getByRole("link", { name: "Integrity" })
      .click();
    await page.getByRole("heading", { level: 1, name: "Integrity" }).waitFor();
    await page.getByText("No scrub since the server started.").waitFor();
    await checkView("scrub");
    await page.getByRole("button", { name: "Scrub now" }).click();
    const corrupt = page.getByRole("table", { name: "Corrupt blobs" });
    await corrupt.waitFor();
    const row = corrupt.getByRole("row", { name: new RegExp(layer) });
    assert.match(await row.innerText(), /yes/);
    assert.match(
      await page.getByRole("status").filter({ hasText: "corrupt blob" }).innerText(),
      /^1 corrupt blob, 1 missing reference, 0 unreadable blobs: /,
    );
    // The manifest naming the quarantined layer can no longer be served whole.
    assert.match(
      await page.getByRole("table", { name: "Missing references" }).innerText(),
      new RegExp(`team/kept[\\s\\S]*${kept.digest}[\\s\\S]*${layer}`),
    );
    await checkView("scrub-corrupt");
    assert.equal((await http(open, "GET", `/v2/team/kept/blobs/${layer}`)).status, 404);
  });

  it("shows no Admin entry to others, and tells them the pages need an administrator", async () => {
    assert.equal(await gotoAndCheckAdmin(secured.url, "/admin/gc"), 401);
    const banner = page.getByRole("banner");
    const needs = page.getByRole("status").filter({ hasText: "This page needs an administrator." });
    await needs.waitFor();
    assert.match(await needs.innerText(), /Sign in \(top of the page\) as an administrator/);
    assert.equal(await banner.getByRole("link", { name: "Admin" }).count(), 0);
    await checkView("gc-needs-admin");

    await banner.getByRole("button", { name: "Sign in" }).click();
    const login = page.getByRole("dialog", { name: "Sign in to Reestr" });
    await login.getByLabel("User name").fill("reader");
    await login.getByLabel("Password").fill(USERS.reader);
    const check = page.waitForResponse((res) => new URL(res.url()).pathname === "/api/admin/gc");
    await login.getByRole("button", { name: "Sign in" }).click();
    assert.equal((await check).status(), 403);
    await needs.filter({ hasText: "You are signed in as reader" }).waitFor();
    assert.equal(await banner.getByRole("link", { name: "Admin" }).count(), 0);
    assert.equal(await gotoAndCheckAdmin(secured.url, "/admin/scrub"), 403);
    await needs.waitFor();
    assert.equal(await banner.getByRole("link", { name: "Admin" }).count(), 0);
    await banner.getByRole("button", { name: "Sign out" }).click();
    await banner.getByRole("button", { name: "Sign in" }).waitFor();

    await banner.getByRole("button", { name: "Sign in" }).click();
    await login.getByLabel("User name").fill("boss");
    await login.getByLabel("Password").fill(USERS.boss);
    await login.getByRole("button", { name: "Sign in" }).click();
    await banner.getByRole("link", { name: "Admin" }).waitFor();
    await page.getByRole("heading", { level: 2, name: "Last scrub" }).waitFor();
    await banner.getByRole("button", { name: "Sign out" }).click();
  });
});
