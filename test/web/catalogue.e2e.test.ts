/**
 * The web catalogue end to end: a real `reestr serve` (child process) holding images pushed with
 * skopeo and over the registry API, a catalogue config with a second registry on a closed port,
 * and Debian's chromium driven by playwright-core. Every view is checked with axe-core and
 * screenshotted into test-artifacts/web/.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { makeOciImage } from "../helpers/fixtures.ts";
import { waitFor } from "../helpers/wait.ts";
import {
  type Browser,
  type Catalogue,
  CHROMIUM,
  describeViolations,
  ensureWebBuilt,
  focused,
  launchBrowser,
  runAxe,
  type SeededImages,
  screenshot,
  seedImages,
  skopeoPush,
  startCatalogue,
  waitForExpression,
} from "./helpers.ts";

/** Debian's chromium and skopeo; without them the suite is skipped, saying which is missing. */
const missing = [CHROMIUM, "/usr/bin/skopeo"].filter((tool) => !existsSync(tool));
const BIG_TAGS = 10_000;
const PAD_REPOS = 30;

let catalogue: Catalogue;
let seeded: SeededImages;
let browser: Browser;
let page: Page;
let base: string;
const pageErrors: string[] = [];

async function api<T>(path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const response = await fetch(base + path, init);
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** No axe violations on the page as it is now, and a screenshot named after the view. */
async function checkView(name: string): Promise<void> {
  await screenshot(page, name);
  const violations = await runAxe(page);
  assert.deepEqual(
    violations.map((v) => v.id),
    [],
    `axe on ${name}:\n${describeViolations(violations)}`,
  );
}

async function goto(path: string): Promise<void> {
  await page.goto(base + path);
  await page.locator("h1").first().waitFor();
}

interface RegistryList {
  registries: { id: string; status: { state: string } }[];
}

before(async () => {
  if (missing.length > 0) return;
  await ensureWebBuilt();
  catalogue = await startCatalogue();
  base = catalogue.server.url;
  seeded = await seedImages(catalogue.server, catalogue.dir, { bigTags: BIG_TAGS, padRepos: PAD_REPOS });
  // The catalogue probed at start; counts and lists are cached: start from fresh data.
  await api("/api/registries/local/resync", { method: "POST" });
  // Wait until the probes of the broken registries have given their verdicts.
  await waitFor(
    async () => {
      const { body } = await api<RegistryList>("/api/registries");
      const state = (id: string) => body.registries.find((r) => r.id === id)?.status.state;
      return state(catalogue.offline.id) === "unreachable" && state(catalogue.locked.id) === "auth_failed";
    },
    { what: "the verdicts on the offline and locked registries", intervalMs: 200 },
  );
  browser = await launchBrowser();
  page = browser.page;
  page.on("pageerror", (error) => pageErrors.push(error.message));
});

after(async () => {
  await browser?.close();
  await catalogue?.stop();
});

describe("web catalogue in chromium against reestr serve", {
  timeout: 180_000,
  skip: missing.length > 0 ? `not installed: ${missing.join(", ")}` : false,
}, () => {
  it("serves the app on / and client routes, JSON on /api/ and the probes", async () => {
    for (const path of ["/", "/r/local/team/app", "/r/local/team/app/-/tag/v1", "/storage"]) {
      const response = await fetch(base + path);
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8", path);
      assert.match(await response.text(), /<div id="root"><\/div>/, path);
    }
    const apiRoot = await fetch(`${base}/api/`);
    assert.equal(apiRoot.headers.get("content-type"), "application/json");
    const health = await fetch(`${base}/healthz`);
    assert.equal(((await health.json()) as { status: string }).status, "healthy");
    const unknownApi = await fetch(`${base}/api/nope`);
    assert.equal(unknownApi.status, 404);
    assert.match(unknownApi.headers.get("content-type") ?? "", /json/);
    // Hashed assets are immutable.
    const html = await (await fetch(base)).text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, "index.html references a hashed script");
    const asset = await fetch(base + script);
    assert.equal(asset.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.equal(asset.headers.get("content-type"), "text/javascript; charset=utf-8");
  });

  it("shows the unreachable registry beside the healthy one", async () => {
    await goto("/");
    const local = page.locator('article[data-registry="local"]');
    const offline = page.locator(`article[data-registry="${catalogue.offline.id}"]`);
    await local.getByText("Reachable", { exact: true }).waitFor();
    await offline.getByText("Unreachable", { exact: true }).waitFor();
    assert.match(await offline.innerText(), new RegExp(catalogue.offline.displayName));
    const locked = page.locator(`article[data-registry="${catalogue.locked.id}"]`);
    await locked.getByText("Authentication failed", { exact: true }).waitFor();
    assert.match(await local.innerText(), /Repositories\s+33/);
    await checkView("registries");
    // Quick filters, kept in the URL.
    await page.getByLabel("Authentication").selectOption("required");
    await page.waitForURL(`${base}/?auth=required`);
    await locked.waitFor();
    assert.equal(await page.locator("article[data-registry]").count(), 1);
    await page.getByLabel("Authentication").selectOption("");
    await page.getByLabel("Status").selectOption("problems");
    await page.waitForURL(`${base}/?state=problems`);
    await offline.waitFor();
    assert.equal(await local.count(), 0);
  });

  it("goes registries → repository → tag by links, each a shareable URL", async () => {
    await goto("/");
    await page
      .locator('article[data-registry="local"]')
      .getByRole("link", { name: "Browse repositories" })
      .click();
    await page.waitForURL(`${base}/r/local`);
    await page.getByRole("link", { name: "team/app", exact: true }).click();
    await page.waitForURL(`${base}/r/local/team/app`);
    await page.getByRole("heading", { level: 1, name: "team/app" }).waitFor();
    const tags = page.locator("table.vtable");
    await tags.getByRole("link", { name: "v2", exact: true }).waitFor();
    assert.equal(await tags.getAttribute("aria-rowcount"), "3");
    // Focus moved to the new view's heading (keyboard and screen-reader users start there).
    assert.equal((await focused(page)).tag, "H1");
    await checkView("repository");

    await tags.getByRole("link", { name: "v2", exact: true }).click();
    await page.waitForURL(`${base}/r/local/team/app/-/tag/v2`);
    await page.getByRole("heading", { level: 2, name: "Platforms" }).waitFor();
    const text = await page.locator("main").innerText();
    assert.ok(text.includes(seeded.appV2Digest), "the index digest is shown");
    assert.match(text, /OCI image index/);
    assert.match(text, /linux\/amd64/);
    assert.match(text, /linux\/arm64\/v8/);
    await checkView("tag-index");

    // A platform of the index opens its manifest view: layers and config.
    await page.getByRole("link", { name: "linux/amd64", exact: true }).click();
    await page.waitForURL(/\/r\/local\/team\/app\/-\/manifest\/sha256:/);
    await page.getByRole("heading", { level: 2, name: "Layers" }).waitFor();
    await page.getByRole("heading", { level: 2, name: "Configuration" }).waitFor();
    await checkView("manifest");

    // Back twice returns to the tag view and the repository view, from the cache.
    await page.goBack();
    await page.waitForURL(`${base}/r/local/team/app/-/tag/v2`);
    await page.goBack();
    await page.waitForURL(`${base}/r/local/team/app`);
    await page.getByRole("heading", { level: 1, name: "team/app" }).waitFor();

    // The same URL opened fresh (a shared link) shows the same view.
    await goto("/r/local/team/app/-/tag/v1");
    await page.getByRole("heading", { level: 2, name: "Layers" }).waitFor();
    assert.ok((await page.locator("main").innerText()).includes(seeded.appV1Digest));
    await checkView("tag-image");
  });

  it("searches on the server and keeps the search in the URL", async () => {
    await goto("/r/local");
    const search = page.getByRole("searchbox", { name: "Search repositories" });
    await search.fill("cli");
    await page.waitForURL(`${base}/r/local?q=cli`);
    const rows = page.locator("table.repositories-table tbody tr");
    await page.getByText("1 repository matches").waitFor();
    assert.equal(await rows.count(), 1);
    assert.equal(await rows.first().getByRole("link").innerText(), "tools/cli");
    // A reload keeps the search: the URL holds it.
    await page.reload();
    await page.getByText("1 repository matches").waitFor();
    assert.equal(await page.getByRole("searchbox", { name: "Search repositories" }).inputValue(), "cli");
    await checkView("repositories-search");
    // Paste works in the search box (never blocked).
    await page.evaluate(`navigator.clipboard.writeText("team")`);
    await search.fill("");
    await search.focus();
    await page.keyboard.press("Control+V");
    assert.equal(await search.inputValue(), "team");
    await page.waitForURL(`${base}/r/local?q=team`);
    // Nothing matches: an empty state with a way out.
    await page.getByRole("searchbox", { name: "Search repositories" }).fill("no-such-thing");
    await page.getByText("No repository matches these filters.").waitFor();
    await checkView("repositories-empty");
  });

  it("filters by namespace, recent updates and signature, and sorts by size", async () => {
    await goto("/r/local");
    await page.getByRole("searchbox", { name: "Namespace" }).fill("tools");
    await page.waitForURL(`${base}/r/local?ns=tools`);
    await page.getByText("1 repository matches").waitFor();
    await page.getByRole("searchbox", { name: "Namespace" }).fill("");
    await page.waitForURL(`${base}/r/local`);
    await page.getByLabel("Updated").selectOption("24h");
    await page.waitForURL(`${base}/r/local?updated=24h`);
    await page.getByText("33 repositories match").waitFor();
    await page.getByLabel("Signature").selectOption("true");
    await page.waitForURL(`${base}/r/local?updated=24h&signed=true`);
    await page.getByText("1 repository matches").waitFor();
    assert.equal(await page.locator("table.repositories-table tbody th").innerText(), "tools/cli");
    await checkView("repositories-filtered");
    await goto("/r/local?sort=size&order=desc&size=25");
    const names = await page.locator("table.repositories-table tbody th").allInnerTexts();
    assert.equal(names[0], "team/app", "the largest repository first");
    assert.equal(names.length, 25);
  });

  it("pages through repositories with links", async () => {
    await goto("/r/local?size=25");
    await page.getByText("1–25 of 33").waitFor();
    assert.equal(await page.locator("table.repositories-table tbody tr").count(), 25);
    await checkView("repositories-page-1");
    await page
      .getByRole("navigation", { name: "Repository pages" })
      .getByRole("link", { name: "Next" })
      .click();
    await page.waitForURL(`${base}/r/local?size=25&page=2`);
    await page.getByText("26–33 of 33").waitFor();
    // A new page starts at the top (the Next link was at the bottom).
    await waitForExpression(page, "window.scrollY === 0");
    assert.equal(await page.locator("table.repositories-table tbody tr").count(), 8);
    // The grid layout shows the same page.
    await page.getByRole("button", { name: "Grid" }).click();
    await page.waitForURL(/view=grid/);
    assert.equal(await page.locator("ul.repo-grid > li").count(), 8);
    await checkView("repositories-grid");
  });

  it("restores the scroll position on Back", async () => {
    await goto("/r/local?size=100");
    await page.getByText("33 repositories").waitFor();
    await page.evaluate("window.scrollTo(0, document.body.scrollHeight)");
    const before = await page.evaluate<number>("window.scrollY");
    assert.ok(before > 200, `the list is taller than the window (scrollY ${before})`);
    await page.getByRole("link", { name: "tools/cli", exact: true }).click();
    await page.waitForURL(`${base}/r/local/tools/cli`);
    await page.getByRole("heading", { level: 1, name: "tools/cli" }).waitFor();
    await page.goBack();
    await page.waitForURL(`${base}/r/local?size=100`);
    await waitForExpression(page, `Math.abs(window.scrollY - ${before}) < 2`);
  });

  it("groups a tag's referrers by kind: SBOM, signature, attestation", async () => {
    await goto("/r/local/tools/cli/-/tag/1.0");
    const referrers = page.locator("section", {
      has: page.getByRole("heading", { level: 2, name: "Referrers" }),
    });
    await referrers.getByRole("heading", { level: 3, name: "SBOMs (1)" }).waitFor();
    await referrers.getByRole("heading", { level: 3, name: "Signatures (1)" }).waitFor();
    await referrers.getByRole("heading", { level: 3, name: "Attestations (1)" }).waitFor();
    assert.match(await referrers.innerText(), /application\/spdx\+json/);
    // Config of the image: entrypoint, environment, labels, history.
    const config = await page
      .locator("section", { has: page.getByRole("heading", { name: "Configuration" }) })
      .innerText();
    assert.match(config, /\["\/app"\]/);
    assert.match(config, /SEED=cli/);
    assert.match(config, /ADD cli \//);
    await checkView("tag-referrers");
  });

  it("shows vulnerabilities and the tag history recorded by the watcher", async () => {
    await goto("/r/local/tools/cli");
    const row = page.locator("table.vtable tbody tr", {
      has: page.getByRole("link", { name: "edge", exact: true }),
    });
    await row.getByText("1 critical").waitFor();
    await row.getByRole("link", { name: "edge", exact: true }).click();
    await page.waitForURL(`${base}/r/local/tools/cli/-/tag/edge`);
    const vulns = page.locator("section", {
      has: page.getByRole("heading", { level: 2, name: "Vulnerabilities" }),
    });
    await vulns.getByText("1 critical").waitFor();
    assert.match(await vulns.innerText(), /3 high/);
    assert.match(await vulns.innerText(), /trivy 0\.58\.1/);
    // The findings behind the counts: one row per (id, package), most severe first.
    const findings = vulns.getByRole("table", { name: /10 vulnerabilities, most severe first/ });
    await findings.waitFor();
    const rows = findings.locator("tbody tr");
    assert.equal(await rows.count(), 10);
    const ids = await rows.locator("th").allInnerTexts();
    assert.deepEqual(ids.slice(0, 4), ["CVE-2023-45853", "CVE-2024-2961", "CVE-2024-2961", "CVE-2024-34156"]);
    assert.equal(ids.at(-1), "TEMP-0841856-B18BAF");
    const first = rows.first();
    assert.deepEqual((await first.locator("td").allInnerTexts()).slice(0, 4), [
      "critical",
      "zlib1g",
      "1:1.2.13.dfsg-1",
      "no fix",
    ]);
    assert.equal(
      await first.getByRole("link", { name: "CVE-2023-45853" }).getAttribute("href"),
      "https://avd.aquasec.com/nvd/cve-2023-45853",
    );
    const gob = rows.filter({ hasText: "CVE-2024-34156" });
    assert.match(await gob.innerText(), /stdlib\s+v1\.22\.4\s+1\.22\.7, 1\.23\.1/);
    assert.deepEqual(
      await findings
        .locator("thead th")
        .evaluateAll((cells) => cells.map((cell) => cell.getAttribute("scope"))),
      ["col", "col", "col", "col", "col", "col"],
    );
    const history = page.locator("section", {
      has: page.getByRole("heading", { level: 2, name: "Tag history" }),
    });
    const moves = history.locator("tbody tr");
    // Both moves, however long the watcher's second pass takes on a busy machine.
    await moves.nth(1).waitFor();
    assert.equal(await moves.count(), 2);
    assert.match(await moves.nth(1).innerText(), /\(new tag\)/);
    await checkView("tag-vulnerabilities-history");

    // The empty states, with the server's answer edited in flight (its watcher scans one report).
    const manifestApi = /\/api\/registries\/local\/repositories\/[^/]+\/manifests\/edge$/;
    const edited = async (patch: (vulnerabilities: Record<string, unknown>) => void) => {
      await page.route(manifestApi, async (route) => {
        const response = await route.fetch();
        const body = (await response.json()) as { vulnerabilities: Record<string, unknown> };
        patch(body.vulnerabilities);
        await route.fulfill({ response, json: body });
      });
      await goto("/r/local/tools/cli/-/tag/edge");
      await vulns.getByText(/Scanned by/).waitFor();
      const text = await vulns.innerText();
      await page.unroute(manifestApi);
      return text;
    };
    const clean = await edited((v) => {
      v.summary = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 };
      v.items = [];
    });
    assert.match(clean, /No vulnerabilities at or above the threshold\./);
    assert.equal(await vulns.getByRole("table").count(), 0);
    const unlisted = await edited((v) => {
      v.items = [];
    });
    assert.match(unlisted, /1 critical/);
    assert.match(unlisted, /list behind these counts was not kept/);
    // An advisory URL that is not http(s) is shown as text, never as a link.
    const unsafe = await edited((v) => {
      v.items = [{ ...(v.items as object[])[0], url: "javascript:alert(1)" }];
    });
    assert.match(unsafe, /CVE-2023-45853/);
    assert.equal(await vulns.getByRole("link", { name: "CVE-2023-45853" }).count(), 0);
  });

  it("copies pull commands to the clipboard and says so in the live region", async () => {
    await goto("/r/local/tools/cli");
    const button = page.getByRole("button", { name: "Copy docker command" });
    await button.waitFor();
    const expected = await button.getAttribute("data-copy");
    assert.ok(expected?.startsWith(`docker pull ${catalogue.server.hostPort}/tools/cli`), expected ?? "");
    await button.click();
    await page.locator(".toasts").getByText(`Copied: ${expected}`).waitFor();
    assert.equal(await page.evaluate<string>("navigator.clipboard.readText()"), expected);
    assert.equal(await page.locator(".toasts").getAttribute("aria-live"), "polite");
    // The README from the image's description annotation is rendered as Markdown.
    await page.locator(".markdown strong", { hasText: "command line" }).waitFor();
    // Only http(s) links become links; markup in a README stays text.
    const hrefs = await page
      .locator(".markdown a")
      .evaluateAll((links) => links.map((a) => a.getAttribute("href")));
    assert.deepEqual(hrefs, ["https://example.com/docs"]);
    assert.equal(await page.locator(".markdown img").count(), 0);
    assert.match(await page.locator(".markdown").innerText(), /<img src=x onerror=alert\(2\)>/);
    await checkView("repository-readme");
  });

  it("renders only the visible rows of a 10,000-tag table", async () => {
    await goto(`/r/local/${seeded.bigRepo}`);
    await page
      .getByText(`${BIG_TAGS.toLocaleString("en-US")} tags`, { exact: true })
      .waitFor({ timeout: 60_000 });
    const table = page.locator("table.vtable");
    assert.equal(await table.getAttribute("aria-rowcount"), String(BIG_TAGS + 1));
    const rowCount = () => table.locator("tbody tr.vrow").count();
    const initial = await rowCount();
    assert.ok(initial > 0 && initial < 60, `rendered ${initial} rows of ${BIG_TAGS}`);
    await checkView("repository-10k-tags");
    // Scrolled to the end: the last tags are rendered (fetched page by page), still few rows.
    await page.locator("section.virtual-scroll").evaluate((element) => {
      element.scrollTop = element.scrollHeight;
    });
    await table.getByRole("link", { name: "tag-09999", exact: true }).waitFor({ timeout: 60_000 });
    const atEnd = await rowCount();
    assert.ok(atEnd > 0 && atEnd < 60, `rendered ${atEnd} rows at the end`);
    assert.equal(
      await table.locator("tbody tr.vrow").last().getAttribute("aria-rowindex"),
      String(BIG_TAGS + 1),
    );
    await screenshot(page, "repository-10k-tags-end");
    // Keyboard: one tag link in the tab order; Home, End and the arrows move through all rows.
    const links = table.locator("tbody a[tabindex='0']");
    assert.equal(await links.count(), 1);
    await links.first().focus();
    await page.keyboard.press("Home");
    await waitForExpression(page, `document.activeElement?.textContent === "base"`);
    await page.keyboard.press("ArrowDown");
    await waitForExpression(page, `document.activeElement?.textContent === "tag-00001"`);
    await page.keyboard.press("End");
    await waitForExpression(page, `document.activeElement?.textContent === "tag-09999"`);
    await page.keyboard.press("ArrowUp");
    await waitForExpression(page, `document.activeElement?.textContent === "tag-09998"`);
    assert.ok((await rowCount()) < 60);
  });

  it("deletes a tag on the local registry only after confirmation", async () => {
    await goto("/r/local/team/app/-/tag/v1");
    const open = page.getByRole("button", { name: "Delete tag" });
    await open.click();
    const dialog = page.getByRole("dialog", { name: "Delete tag v1?" });
    await dialog.waitFor();
    // Cancel has the focus: Enter does not delete.
    assert.equal((await focused(page)).text, "Cancel");
    await checkView("delete-dialog");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "hidden" });
    assert.equal((await focused(page)).text, "Delete tag", "focus returns");
    assert.equal((await api("/api/registries/local/repositories/team%2Fapp/manifests/v1")).status, 200);

    await open.click();
    await dialog.getByRole("button", { name: "Delete tag" }).click();
    await page.waitForURL(`${base}/r/local/team/app`);
    await page.locator(".toasts").getByText("Deleted tag team/app:v1").waitFor();
    assert.equal((await api("/api/registries/local/repositories/team%2Fapp/manifests/v1")).status, 404);
    const tags = page.locator("table.vtable");
    await tags.getByRole("link", { name: "v2", exact: true }).waitFor();
    assert.equal(await tags.getByRole("link", { name: "v1", exact: true }).count(), 0);
  });

  it("deletes a manifest after confirmation and resyncs a registry", async () => {
    await goto("/r/local/pad/repo-00/-/tag/latest");
    await page.getByRole("button", { name: "Delete manifest" }).click();
    const dialog = page.getByRole("dialog", { name: "Delete this manifest?" });
    await dialog.getByRole("button", { name: "Delete manifest" }).click();
    await page.waitForURL(`${base}/r/local/pad/repo-00`);
    await page
      .locator(".toasts")
      .getByText(/Deleted manifest sha256:/)
      .waitFor();
    assert.equal(
      (await api("/api/registries/local/repositories/pad%2Frepo-00/manifests/latest")).status,
      404,
    );
    await page.getByText("This repository has no tags.").waitFor();

    await goto("/");
    await page.getByRole("button", { name: "Resync Reestr (this server)" }).click();
    await page.locator(".toasts").getByText("Reestr (this server): resynced").waitFor();
  });

  it("on a server with users: the repository needs a sign-in, then delete works with the session", async () => {
    const locked = catalogue.locked.server;
    const layout = join(catalogue.dir, "layouts", "secure");
    await makeOciImage(layout, { tag: "v1", seed: "secure" });
    await skopeoPush(locked, layout, "v1", "secure/app", "alice:right-password");
    await page.goto(`${locked.url}/r/local/secure/app/-/tag/v1`);
    const signIn = page.getByRole("banner").getByRole("button", { name: "Sign in" });
    await signIn.waitFor();
    // Not signed in: the server shows nothing of a repository anonymous callers may not pull.
    await page
      .getByText(/sign in to see secure\/app/)
      .first()
      .waitFor();
    assert.equal(await page.getByRole("heading", { level: 2, name: "Layers" }).count(), 0);
    // A wrong password is refused inline.
    await signIn.click();
    const login = page.getByRole("dialog", { name: "Sign in to Reestr" });
    await login.getByLabel("User name").fill("alice");
    await login.getByLabel("Password").fill("not-it");
    await login.getByRole("button", { name: "Sign in" }).click();
    await login.getByRole("alert").waitFor();
    await checkView("sign-in-dialog");
    await login.getByLabel("Password").fill("right-password");
    await login.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("banner").getByText("Signed in as").waitFor();
    // Signed in, the view is read again and shows the image.
    await page.getByRole("heading", { level: 2, name: "Layers" }).waitFor();
    // The delete goes through with the session cookie and the CSRF header.
    await page.getByRole("button", { name: "Delete tag" }).click();
    const confirm = page.getByRole("dialog", { name: "Delete tag v1?" });
    await confirm.getByRole("button", { name: "Delete tag" }).click();
    await page.waitForURL(`${locked.url}/r/local/secure/app`);
    const gone = await fetch(`${locked.url}/api/registries/local/repositories/secure%2Fapp/manifests/v1`, {
      headers: { Authorization: `Basic ${Buffer.from("alice:right-password").toString("base64")}` },
    });
    assert.equal(gone.status, 404);
    await page.getByRole("banner").getByRole("button", { name: "Sign out" }).click();
    await signIn.waitFor();
  });

  it("shows a banner and inline errors for the unreachable registry", async () => {
    await goto(`/r/${catalogue.offline.id}`);
    const banner = page.locator(".banner[role=alert]");
    await banner.waitFor();
    assert.match(await banner.innerText(), /cannot be reached/);
    await page.locator(".inline-error-box").waitFor({ timeout: 30_000 });
    await checkView("registry-unreachable");
  });

  it("shows a registry-level banner when authentication fails", async () => {
    await goto(`/r/${catalogue.locked.id}`);
    const banner = page.locator(".banner[role=alert]");
    await banner.waitFor();
    assert.match(await banner.innerText(), /could not sign in to Locked registry/);
    assert.match(await banner.innerText(), /REESTR_REGISTRY_LOCKED_/);
    // The password never reaches the browser.
    assert.ok(!(await page.content()).includes("wrong-password"));
    await checkView("registry-auth-failed");
  });

  it("shows storage per registry and per repository, largest first", async () => {
    await goto("/storage");
    const overview = page.locator("table.storage-table");
    await overview.getByRole("link", { name: "Reestr (this server)" }).waitFor();
    await checkView("storage");
    await overview.getByRole("link", { name: "Reestr (this server)" }).click();
    await page.waitForURL(`${base}/storage/local`);
    const rows = page.locator("table.storage-table tbody tr");
    await rows.first().waitFor();
    const names = await rows.locator("th").allInnerTexts();
    assert.equal(names[0], "team/app", "the largest repository comes first");
    await checkView("storage-local");
  });

  it("is usable by keyboard: skip link first, visible focus", async () => {
    await goto("/");
    await page.keyboard.press("Tab");
    const focus = await focused(page);
    assert.equal(focus.text, "Skip to content");
    assert.notEqual(focus.outline, "none");
    await page.keyboard.press("Enter");
    assert.equal((await focused(page)).id, "main");
    // The browser asks for reduced motion (launchBrowser): transitions are dropped.
    const motion = await page.evaluate<{ reduce: boolean; transition: string }>(`({
      reduce: matchMedia("(prefers-reduced-motion: reduce)").matches,
      transition: getComputedStyle(document.querySelector(".button")).transitionDuration,
    })`);
    assert.equal(motion.reduce, true);
    assert.ok(
      motion.transition.split(",").every((d) => Number.parseFloat(d) < 0.001),
      motion.transition,
    );
  });

  it("on a phone (coarse pointer, 390px wide): 44px targets and no sideways scrolling", async () => {
    const phone = await browser.context.newPage();
    try {
      phone.on("pageerror", (error) => pageErrors.push(error.message));
      const cdp = await browser.context.newCDPSession(phone);
      await cdp.send("Emulation.setTouchEmulationEnabled", { enabled: true, maxTouchPoints: 1 });
      await phone.setViewportSize({ width: 390, height: 844 });
      for (const path of [
        "/",
        "/r/local?size=25",
        "/r/local/tools/cli",
        "/r/local/tools/cli/-/tag/1.0",
        "/storage/local",
      ]) {
        await phone.goto(base + path);
        await phone.locator("h1").first().waitFor();
        await phone.locator(".loading").first().waitFor({ state: "detached" });
        const layout = await phone.evaluate<{
          coarse: boolean;
          overflow: number;
          small: string[];
          checked: number;
        }>(`(() => {
          const targets = document.querySelectorAll(
            "button, input, select, .button, .page-link, .site-header a, .breadcrumbs a, .card-header a, .skip-link");
          const shown = [...targets].filter((e) => e.getClientRects().length > 0);
          const small = [...targets]
            .filter((e) => e.getClientRects().length > 0 && !e.classList.contains("skip-link"))
            .map((e) => [e, e.getBoundingClientRect()])
            .filter(([, r]) => r.height < 44 || r.width < 44)
            .map(([e, r]) => e.outerHTML.slice(0, 60) + " " + Math.round(r.width) + "x" + Math.round(r.height));
          return {
            coarse: matchMedia("(pointer: coarse)").matches,
            overflow: document.documentElement.scrollWidth - innerWidth,
            small,
            checked: shown.length,
          };
        })()`);
        assert.equal(layout.coarse, true);
        assert.ok(layout.checked >= 3, `${path}: only ${layout.checked} targets found`);
        assert.deepEqual(layout.small, [], `${path}: targets under 44px`);
        assert.ok(layout.overflow <= 0, `${path}: the page scrolls sideways by ${layout.overflow}px`);
        await screenshot(phone, `phone${path.replace(/[^a-z0-9]+/gi, "-").replace(/-$/, "")}`);
      }
    } finally {
      await phone.close();
    }
  });

  it("keeps AA contrast in the dark theme", async () => {
    await page.emulateMedia({ colorScheme: "dark" });
    try {
      for (const [path, name] of [
        ["/", "dark-registries"],
        ["/r/local/tools/cli/-/tag/1.0", "dark-tag"],
        [`/r/${catalogue.locked.id}`, "dark-auth-failed"],
        ["/storage/local", "dark-storage"],
      ] as const) {
        await goto(path);
        await page.locator(".loading").first().waitFor({ state: "detached" });
        await checkView(name);
      }
    } finally {
      await page.emulateMedia({ colorScheme: "light" });
    }
  });

  it("raised no script errors in the page", () => {
    assert.deepEqual(pageErrors, []);
  });
});
