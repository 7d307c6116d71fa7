/**
 * The web catalogue's polish items (issue 15 §2) in Debian's chromium: the tags table's columns
 * never clip while there is room, one definition of size in the summary, the tag row and the tag
 * view, no sideways scrolling of the tag view on a 390 px phone, the description label as the
 * README's fallback, multi-select delete, `reestr ui` without 404s, and the personal access
 * tokens page (create, use on /v2, revoke). Servers run in-process (startServer) except
 * `reestr ui`, which runs as users run it (bin/reestr.js).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { hashPassword, writeHtpasswd } from "../../src/auth/htpasswd.ts";
import type { TagPage, TagSummary } from "../../src/catalog/api-schemas.ts";
import {
  DOCKER_LIST,
  DOCKER_MANIFEST,
  http,
  pushImage,
  pushIndex,
  startServer,
  type TestServer,
} from "../api/helpers.ts";
import { basic, pushImage as pushWithCredentials } from "../auth/helpers.ts";
import { freePort, REESTR_BIN, type ServerProcess, spawnServer } from "../helpers/reestr-process.ts";
import { waitFor } from "../helpers/wait.ts";
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
const PASSWORD = "polish-pass";
const LONG_REPO = "some-organisation/very-long-project-name/subcomponent-with-a-long-name";
const LONG_TAG = "1.2.3-alpine3.19-with-build-metadata";
const DESCRIPTION = "A tool that does one thing.\nIt keeps <b>markup</b> as text.";

let open: TestServer;
let secured: TestServer;
let ui: ServerProcess;
let dir: string;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

async function checkAxe(name: string, target: Page = page): Promise<void> {
  await screenshot(target, name);
  const violations = await runAxe(target);
  assert.deepEqual(
    violations.map((v) => v.id),
    [],
    `axe on ${name}:\n${describeViolations(violations)}`,
  );
}

async function goto(base: string, path: string, target: Page = page): Promise<void> {
  await target.goto(base + path);
  await target.locator("h1").first().waitFor();
  await target.locator(".loading").first().waitFor({ state: "detached" });
}

function imageConfig(architecture: string, labels: Record<string, string> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture,
      os: "linux",
      created: "2024-05-01T10:00:00Z",
      rootfs: { type: "layers", diff_ids: [] },
      config: { Labels: labels, Env: [`NONCE=${randomBytes(4).toString("hex")}`] },
    }),
  );
}

before(async () => {
  if (missing.length > 0) return;
  await ensureWebBuilt();
  dir = await mkdtemp(join(tmpdir(), "reestr-web-polish-"));
  open = await startServer();
  // An index alone in its repository: two platforms sharing a layer.
  const shared = randomBytes(900);
  const amd64 = await pushImage(open, "sized/app", undefined, {
    config: imageConfig("amd64"),
    layers: [shared, randomBytes(300)],
  });
  const arm64 = await pushImage(open, "sized/app", undefined, {
    config: imageConfig("arm64"),
    layers: [shared, randomBytes(200)],
  });
  await pushIndex(open, "sized/app", "1.0", [
    { ...amd64.descriptor, platform: { os: "linux", architecture: "amd64" } },
    { ...arm64.descriptor, platform: { os: "linux", architecture: "arm64" } },
  ]);
  // Long names and a Docker manifest list: the media type does not break by itself.
  const docker = await pushImage(open, LONG_REPO, undefined, { mediaType: DOCKER_MANIFEST });
  await pushIndex(
    open,
    LONG_REPO,
    LONG_TAG,
    [{ ...docker.descriptor, platform: { os: "linux", architecture: "amd64" } }],
    {
      mediaType: DOCKER_LIST,
    },
  );
  await pushImage(open, LONG_REPO, "plain", { mediaType: DOCKER_MANIFEST });
  await pushImage(open, "labelled/tool", "latest", {
    config: imageConfig("amd64", { "org.opencontainers.image.description": DESCRIPTION }),
  });
  for (const tag of ["a", "b", "c"]) await pushImage(open, "bulk/app", tag);
  for (const tag of ["1.0", "1.1", "2.0"]) await pushImage(open, "wide/app", tag);

  const htpasswd = join(dir, "htpasswd");
  await writeHtpasswd(htpasswd, new Map([["alice", await hashPassword(PASSWORD, 4)]]));
  secured = await startServer({
    auth: {
      htpasswd,
      rules: [{ subjects: ["user:alice"], repositories: ["**"], actions: ["delete", "push"] }],
    },
  });
  await pushWithCredentials(secured, basic("alice", PASSWORD), "team/app", "v1");

  const registries = join(dir, "registries.yaml");
  await writeFile(
    registries,
    ["registries:", "  - id: remote", "    displayName: Open Reestr", `    baseUrl: ${open.url}`, ""].join(
      "\n",
    ),
  );
  const port = await freePort();
  ui = await spawnServer({
    name: "reestr-ui",
    command: process.execPath,
    args: [REESTR_BIN, "ui", "-c", registries, "--port", String(port), "--probe-timeout", "2s"],
    env: { ...process.env },
    port,
    dataDir: dir,
    ownedDirs: [],
    logFile: join(dir, "ui.log"),
    readyPath: "/healthz",
  });
  browser = await launchBrowser();
  page = browser.page;
  page.on("pageerror", (error) => pageErrors.push(error.message));
});

after(async () => {
  await browser?.close();
  await ui?.cleanup();
  await Promise.all([open?.cleanup(), secured?.cleanup()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("web catalogue polish in chromium", {
  timeout: 180_000,
  skip: missing.length > 0 ? `not installed: ${missing.join(", ")}` : false,
}, () => {
  it("tags table: badges, times, digests and platforms never clip; the tag column gives way", async () => {
    await page.setViewportSize({ width: 1440, height: 900 });
    let rows: Pick<TagSummary, "vulnerabilities" | "platforms"> = {
      vulnerabilities: { critical: 1, high: 12, medium: 4, low: 0, unknown: 0 },
      platforms: [{ os: "linux", architecture: "amd64", variant: null }],
    };
    const tagsApi = /\/api\/registries\/local\/repositories\/wide%2Fapp\/tags(\?|$)/;
    await page.route(tagsApi, async (route) => {
      const response = await route.fetch();
      const body = (await response.json()) as TagPage;
      for (const item of body.items) {
        Object.assign(item, rows);
        item.created = new Date(Date.now() - 47 * 60_000).toISOString();
      }
      await route.fulfill({ response, json: body });
    });
    const measure = async () => {
      await goto(open.url, "/r/local/wide/app");
      const table = page.locator("table.vtable");
      await table.locator("tbody .badge").first().waitFor();
      const cells = await table.evaluate((element) =>
        [...element.querySelectorAll("th, td")]
          .filter((cell) => !cell.classList.contains("cell-tag") && cell.closest("tr.spacer") === null)
          .map((cell) => ({
            text: (cell.textContent ?? "").trim(),
            scroll: cell.scrollWidth,
            client: cell.clientWidth,
          })),
      );
      const box = await page.locator("section.virtual-scroll").evaluate((element) => ({
        scroll: element.scrollWidth,
        client: element.clientWidth,
        columns: [...element.querySelectorAll("col")].map(
          (col) => `${col.className}:${col.getBoundingClientRect().width}`,
        ),
      }));
      return {
        cells,
        clipped: cells.filter((cell) => cell.scroll > cell.client),
        sideways: box.scroll > box.client,
        box,
      };
    };
    try {
      // Three severities, one platform: there is room, nothing is cut and nothing scrolls.
      const usual = await measure();
      assert.ok(
        usual.cells.some((cell) => cell.text === "1 critical12 high4 medium"),
        "the badges are there",
      );
      assert.ok(usual.cells.some((cell) => cell.text === "47 minutes ago"));
      assert.deepEqual(usual.clipped, [], "cells whose content is cut");
      assert.equal(
        usual.sideways,
        false,
        `the tags box scrolls sideways although the room was there: ${JSON.stringify(usual.box)}`,
      );
      await checkAxe("polish-wide-tags");
      // The widest rows there are: the columns still show everything; the box scrolls instead.
      rows = {
        vulnerabilities: { critical: 101, high: 222, medium: 333, low: 444, unknown: 555 },
        platforms: [
          { os: "linux", architecture: "amd64", variant: null },
          { os: "linux", architecture: "arm64", variant: "v8" },
        ],
      };
      const widest = await measure();
      assert.ok(widest.cells.some((cell) => cell.text.includes("555 unknown")));
      assert.deepEqual(widest.clipped, [], "cells whose content is cut");
    } finally {
      await page.unroute(tagsApi);
    }
  });

  it("an index has one size: the summary's, the tag row's and the tag view's, explained by a tip", async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await goto(open.url, "/r/local/sized/app");
    const summarySize = page.locator("dt", { hasText: /^Size/ }).locator("xpath=following-sibling::dd");
    const rowSize = page.locator("table.vtable tbody tr.vrow td.num");
    await rowSize.first().waitFor();
    const summary = await summarySize.innerText();
    assert.match(summary, /KiB$/);
    assert.equal(await rowSize.first().innerText(), summary);
    // The definition is one focus away, and Escape hides it.
    const tip = page.getByRole("button", { name: "About tag sizes" });
    await tip.focus();
    const tooltip = page.getByRole("tooltip");
    await tooltip.waitFor();
    assert.match(await tooltip.innerText(), /each counted once; for an index, across all its platforms/);
    await checkAxe("polish-size-tip");
    await page.keyboard.press("Escape");
    await tooltip.waitFor({ state: "hidden" });
    await page.getByRole("link", { name: "1.0", exact: true }).click();
    await page.getByRole("heading", { level: 2, name: "Platforms" }).waitFor();
    const total = page.locator("dt", { hasText: /^Total size/ }).locator("xpath=following-sibling::dd");
    assert.equal(await total.innerText(), summary);
  });

  it("the tag view and its neighbours do not scroll sideways on a 390 px phone", async () => {
    const phone = await browser.context.newPage();
    try {
      phone.on("pageerror", (error) => pageErrors.push(error.message));
      const cdp = await browser.context.newCDPSession(phone);
      await cdp.send("Emulation.setTouchEmulationEnabled", { enabled: true, maxTouchPoints: 1 });
      await phone.setViewportSize({ width: 390, height: 844 });
      for (const path of [
        `/r/local/${LONG_REPO}/-/tag/${LONG_TAG}`,
        `/r/local/${LONG_REPO}/-/tag/plain`,
        "/r/local/sized/app/-/tag/1.0",
        `/r/local/${LONG_REPO}`,
        "/r/local/labelled/tool",
      ]) {
        await goto(open.url, path, phone);
        await phone.locator("main section").first().waitFor();
        const layout = await phone.evaluate<{ overflow: number; wide: string[] }>(`(() => ({
          overflow: document.documentElement.scrollWidth - innerWidth,
          wide: [...document.querySelectorAll("main *")]
            .filter((e) => !e.closest(".table-wrap, .virtual-scroll") && e.getBoundingClientRect().right > innerWidth + 0.5)
            .map((e) => e.tagName + "." + e.className).slice(0, 5),
        }))()`);
        assert.ok(
          layout.overflow <= 0,
          `${path}: scrolls sideways by ${layout.overflow}px (${layout.wide.join(", ")})`,
        );
        assert.equal(await phone.evaluate<number>("document.documentElement.scrollWidth"), 390, path);
      }
      await checkAxe("polish-phone-docker-list", phone);
    } finally {
      await phone.close();
    }
  });

  it("without a README, the image's description label is shown as plain text", async () => {
    await goto(open.url, "/r/local/labelled/tool");
    const readme = page.locator("section", { has: page.getByRole("heading", { level: 2, name: "README" }) });
    const text = readme.locator(".plain-description");
    await text.waitFor();
    assert.equal(await text.innerText(), DESCRIPTION, "line breaks kept, markup left as text");
    assert.equal(await readme.locator("b").count(), 0);
    assert.match(await readme.innerText(), /org\.opencontainers\.image\.description label/);
    await checkAxe("polish-description-label");
    // A repository with neither says so.
    await goto(open.url, "/r/local/bulk/app");
    await page.getByText(/^No README\./).waitFor();
  });

  it("deletes the selected tags after one confirmation", async () => {
    await goto(open.url, "/r/local/bulk/app");
    const table = page.locator("table.vtable");
    await table.getByRole("link", { name: "c", exact: true }).waitFor();
    const deleteSelected = page.getByRole("button", { name: "Delete selected" });
    assert.equal(await deleteSelected.isDisabled(), true, "nothing selected yet");
    await page.getByRole("checkbox", { name: "Select tag a" }).check();
    await page.getByRole("checkbox", { name: "Select tag b" }).check();
    await page.getByText("3 tags, 2 selected").waitFor();
    // Some, not all: the header box says so.
    const all = page.getByRole("checkbox", { name: "Select all 3 tags" });
    assert.equal(
      await all.evaluate((box) => (box as unknown as { indeterminate: boolean }).indeterminate),
      true,
    );
    await deleteSelected.click();
    const dialog = page.getByRole("dialog", { name: "Delete 2 tags?" });
    await dialog.waitFor();
    assert.deepEqual(await dialog.locator("li").allInnerTexts(), ["a", "b"]);
    await checkAxe("polish-bulk-delete-dialog");
    await dialog.getByRole("button", { name: "Delete 2 tags" }).click();
    await dialog.waitFor({ state: "hidden" });
    await page.locator(".toasts").getByText("Deleted 2 tags of bulk/app").waitFor();
    await page.getByText("1 tag", { exact: true }).waitFor();
    assert.deepEqual(await table.locator("tbody th").allInnerTexts(), ["c"]);
    const list = await http(open, "GET", "/v2/bulk/app/tags/list");
    assert.deepEqual(list.json<{ tags: string[] }>().tags, ["c"]);
    assert.equal(await deleteSelected.isDisabled(), true, "the deleted tags left the selection");
  });

  it("reestr ui: browsing every view draws no 404, and the session comes from the open-session route", async () => {
    const failures: string[] = [];
    const sessions: number[] = [];
    const listener = (response: { url(): string; status(): number }) => {
      if (response.status() >= 400) failures.push(`${response.status()} ${response.url()}`);
      if (new URL(response.url()).pathname === "/api/auth/session") sessions.push(response.status());
    };
    page.on("response", listener);
    try {
      await waitFor(
        async () => {
          const res = await http(ui.url, "GET", "/api/registries");
          return (
            res.json<{ registries: { status: { state: string } }[] }>().registries[0]?.status.state === "ok"
          );
        },
        { what: "reestr ui's probe of the open server" },
      );
      for (const path of [
        "/",
        "/r/remote",
        "/r/remote/sized/app",
        "/r/remote/sized/app/-/tag/1.0",
        "/storage",
        "/account/tokens",
      ]) {
        await goto(ui.url, path);
      }
      await page.getByText(/This server has no users/).waitFor();
    } finally {
      page.off("response", listener);
    }
    assert.deepEqual(failures, []);
    assert.ok(
      sessions.length > 0 && sessions.every((status) => status === 200),
      `session answers ${sessions}`,
    );
  });

  it("access tokens: sign in, create one (secret shown once), use it on /v2, revoke it", async () => {
    await goto(secured.url, "/");
    const banner = page.getByRole("banner");
    await banner.getByRole("button", { name: "Sign in" }).click();
    const login = page.getByRole("dialog", { name: "Sign in to Reestr" });
    await login.getByLabel("User name").fill("alice");
    await login.getByLabel("Password").fill(PASSWORD);
    await login.getByRole("button", { name: "Sign in" }).click();
    await banner.getByText("Signed in as").waitFor();
    await banner.getByRole("link", { name: "Access tokens" }).click();
    await page.waitForURL(`${secured.url}/account/tokens`);
    await page.getByRole("heading", { level: 1, name: "Access tokens" }).waitFor();
    await page.getByText("You have no access tokens.").waitFor();
    await checkAxe("polish-tokens-empty");

    await page.getByLabel("Name").fill("ci-pull");
    // Pull is ticked by default; expiry 30 days.
    assert.equal(await page.getByRole("checkbox", { name: "pull" }).isChecked(), true);
    await page.getByLabel("Expires after").selectOption("90");
    await page.getByRole("button", { name: "Create token" }).click();
    const created = page.locator("section", {
      has: page.getByRole("heading", { name: "Token ci-pull created" }),
    });
    await created.waitFor();
    const secret = await created.locator("code[data-secret]").innerText();
    assert.match(secret, /^rst_/);
    await created.getByRole("button", { name: "Copy token" }).click();
    assert.equal(await page.evaluate<string>("navigator.clipboard.readText()"), secret);
    const row = page.locator("tr[data-token='ci-pull']");
    await row.waitFor();
    const cells = await row.locator("th, td").allInnerTexts();
    assert.deepEqual([cells[0], cells[1], cells[3], cells[4]], ["ci-pull", "pull", "never", "in 3 months"]);
    await checkAxe("polish-tokens-created");

    const v2 = async () => (await http(secured, "GET", "/v2/", { headers: basic("alice", secret) })).status;
    assert.equal(await v2(), 200, "the token is alice's password on /v2");
    // The list says it was used.
    await page.reload();
    await row.waitFor();
    assert.doesNotMatch(await row.locator("td").nth(2).innerText(), /never/);
    // Shown once: after a reload the secret is nowhere on the page.
    assert.ok(!(await page.content()).includes(secret));

    await row.getByRole("button", { name: "Revoke token ci-pull" }).click();
    const confirm = page.getByRole("dialog", { name: "Revoke token ci-pull?" });
    await confirm.getByRole("button", { name: "Revoke token" }).click();
    await confirm.waitFor({ state: "hidden" });
    await page.getByText("You have no access tokens.").waitFor();
    assert.equal(await v2(), 401, "a revoked token is refused at once");

    // On a phone the header's account links stay 44 px targets and nothing scrolls sideways.
    const phone = await browser.context.newPage();
    try {
      const cdp = await browser.context.newCDPSession(phone);
      await cdp.send("Emulation.setTouchEmulationEnabled", { enabled: true, maxTouchPoints: 1 });
      await phone.setViewportSize({ width: 390, height: 844 });
      await goto(secured.url, "/account/tokens", phone);
      await phone.getByText("You have no access tokens.").waitFor();
      const layout = await phone.evaluate<{ overflow: number; small: string[] }>(`(() => ({
        overflow: document.documentElement.scrollWidth - innerWidth,
        small: [...document.querySelectorAll("button, input, select, .site-header a")]
          .filter((e) => e.getClientRects().length > 0)
          .map((e) => [e, e.getBoundingClientRect()])
          .filter(([, r]) => r.height < 44 || r.width < 44)
          .map(([e]) => e.outerHTML.slice(0, 60)),
      }))()`);
      assert.ok(layout.overflow <= 0, `the tokens page scrolls sideways by ${layout.overflow}px`);
      assert.deepEqual(layout.small, []);
      await screenshot(phone, "polish-phone-tokens");
    } finally {
      await phone.close();
    }
    await banner.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("Sign in (top of the page) to see and create your access tokens.").waitFor();
  });

  it("raised no script errors in the page", () => {
    assert.deepEqual(pageErrors, []);
  });
});
