/**
 * The retention admin page and the pull columns in chromium, against an in-process `reestr
 * serve`: the policy table, a dry run listing what goes and why, a confirmed real run with each
 * deletion's outcome, and "Last pulled" in the repository list and the tags table. Every view is
 * checked with axe-core.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { http, OCI_MANIFEST, pushImage, startServer, type TestServer } from "../api/helpers.ts";
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

let server: TestServer;
let browser: Browser;
let page: Page;

async function checkView(name: string): Promise<void> {
  await screenshot(page, name);
  const violations = await runAxe(page);
  assert.deepEqual(
    violations.map((v) => v.id),
    [],
    `axe on ${name}:\n${describeViolations(violations)}`,
  );
}

before(async () => {
  if (missing.length > 0) return;
  await ensureWebBuilt();
  server = await startServer({
    config: {
      retention: { scheduled: false, policies: [{ name: "previews", deleteTags: ["^pr-"] }] },
    },
  });
  for (const tag of ["latest", "pr-1", "pr-2"]) await pushImage(server, "team/app", tag);
  await http(server, "GET", "/v2/team/app/manifests/latest", { headers: { Accept: OCI_MANIFEST } });
  await server.running.pulls!.flush();
  browser = await launchBrowser();
  page = browser.page;
});

after(async () => {
  await browser?.close();
  await server?.cleanup();
});

describe("retention page and pull columns in chromium", {
  timeout: 120_000,
  skip: missing.length > 0 ? `not installed: ${missing.join(", ")}` : false,
}, () => {
  it("shows when each repository and tag was last pulled, and sorts by it", async () => {
    await page.goto(`${server.url}/r/local?sort=pulled&order=desc`);
    const table = page.getByRole("table", { name: "Repositories" });
    await table.getByRole("columnheader", { name: "Last pulled" }).waitFor();
    assert.equal(
      await table.getByRole("columnheader", { name: "Last pulled" }).getAttribute("aria-sort"),
      "descending",
    );
    assert.match(await table.getByRole("row", { name: /team\/app/ }).innerText(), /\b1\b/);
    await checkView("repositories-pulled");
    await page.goto(`${server.url}/r/local/team/app?tsort=pulled&torder=desc`);
    const tags = page.getByRole("table", { name: /Tags of team\/app/ });
    await tags.getByRole("columnheader", { name: "Last pulled" }).waitFor();
    const firstRow = tags.locator("tbody tr.vrow").first();
    await firstRow.getByRole("link", { name: "latest" }).waitFor();
    assert.match(await firstRow.innerText(), /now|second|minute/);
    await checkView("tags-pulled");
  });

  it("lists the policies, dry-runs them and runs them after a confirmation", async () => {
    await page.goto(`${server.url}/admin/retention`);
    await page.getByRole("heading", { level: 1, name: "Retention" }).waitFor();
    const policies = page.getByRole("table", { name: /Retention policies/ });
    assert.match(await policies.getByRole("row", { name: /previews/ }).innerText(), /deletes only \^pr-/);
    await checkView("retention");

    await page.getByRole("button", { name: "Dry run" }).click();
    const plan = page.getByRole("table", { name: /team\/app/ });
    await plan.waitFor();
    assert.match(
      await plan.getByRole("row", { name: /^pr-1/ }).innerText(),
      /delete\s+matches deleteTags \/\^pr-\//,
    );
    assert.match(
      await plan.getByRole("row", { name: /^latest/ }).innerText(),
      /keep\s+matches no deleteTags pattern/,
    );
    assert.match(
      await page.getByRole("status").first().innerText(),
      /Dry run: 1 repositories, 1 tags kept, 2 tags to delete/,
    );
    await checkView("retention-dry-run");

    await page.getByRole("button", { name: "Run now" }).click();
    await page
      .getByRole("dialog")
      .getByRole("button", { name: "Delete what the policies do not keep" })
      .click();
    await page.getByRole("heading", { level: 2, name: "Run" }).waitFor();
    assert.match(await plan.getByRole("row", { name: /^pr-2/ }).innerText(), /deleted/);
    await checkView("retention-run");
    const list = await http(server, "GET", "/v2/team/app/tags/list");
    assert.deepEqual(list.json<{ tags: string[] }>().tags, ["latest"]);
  });
});
