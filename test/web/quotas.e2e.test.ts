/**
 * The storage page's quota bars, end to end: a real `reestr serve` with two quotas and a blob
 * pushed into one, Debian's chromium driven by playwright-core, checked with axe-core and
 * screenshotted into test-artifacts/web/. A server without quotas shows no quota section.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { digestOf } from "../../src/oci/digest.ts";
import { type ServerProcess, startReestr } from "../helpers/reestr-process.ts";
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

let dir: string;
let server: ServerProcess;
let plain: ServerProcess;
let browser: Browser;

before(async () => {
  if (missing.length > 0) return;
  await ensureWebBuilt();
  dir = await mkdtemp(join(tmpdir(), "reestr-web-quotas-"));
  const config = join(dir, "reestr.yaml");
  await writeFile(
    config,
    'quotas:\n  - repositories: "team-a/**"\n    limit: 1MiB\n  - repositories: "team-b/**"\n    limit: 10GiB\n',
  );
  [server, plain] = await Promise.all([
    startReestr({ extraArgs: ["--config", config, "--no-access-log"] }),
    startReestr({ extraArgs: ["--no-access-log"] }),
  ]);
  const blob = randomBytes(768 * 1024);
  const res = await fetch(`${server.url}/v2/team-a/app/blobs/uploads/?digest=${digestOf(blob)}`, {
    method: "POST",
    body: blob,
  });
  assert.equal(res.status, 201, await res.text());
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await Promise.all([server?.cleanup(), plain?.cleanup()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the storage page's quotas", {
  skip: missing.length > 0 ? `missing ${missing.join(", ")}` : false,
}, () => {
  it("shows each quota with its usage bar, accessible", async () => {
    const { page } = browser;
    await page.goto(`${server.url}/storage`);
    const section = page.getByRole("region", { name: "Quotas" });
    await section.waitFor();
    const rows = section.locator("tbody tr");
    assert.equal(await rows.count(), 2);
    assert.deepEqual(
      (await rows.nth(0).locator("th, td").allInnerTexts()).map((text) => text.trim()),
      ["team-a/**", "768 KiB", "1.00 MiB", "75%"],
    );
    const meter = rows.nth(0).locator("meter");
    assert.equal(await meter.getAttribute("aria-label"), "team-a/**: 75% of the quota used");
    assert.equal(Number(await meter.getAttribute("value")), 768 * 1024);
    assert.equal(Number(await meter.getAttribute("max")), 1024 * 1024);
    await screenshot(page, "storage-quotas");
    const violations = await runAxe(page);
    assert.deepEqual(
      violations.map((v) => v.id),
      [],
      describeViolations(violations),
    );
  });

  it("shows no quota section on a server without quotas", async () => {
    const { page } = browser;
    await page.goto(`${plain.url}/storage`);
    await page.locator("table.storage-table, .empty").first().waitFor();
    assert.equal(await page.getByRole("heading", { name: "Quotas" }).count(), 0);
  });
});
