/** The configuration examples in the README are valid configurations (docs that tell the truth). */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadConfig } from "../../src/config/config.ts";
import { REPO_ROOT } from "../helpers/reestr-process.ts";

/** The ```yaml blocks of the README whose first line names the serve config file. */
async function serveConfigExamples(): Promise<string[]> {
  const readme = await readFile(join(REPO_ROOT, "README.md"), "utf8");
  return [...readme.matchAll(/```yaml\n(# reestr\.yaml[^\n]*\n[\s\S]*?)```/g)].map((match) => match[1]!);
}

test("every `# reestr.yaml` example in the README loads", async () => {
  const examples = await serveConfigExamples();
  assert.ok(examples.length >= 1, "the README shows a serve config");
  const dir = await mkdtemp(join(tmpdir(), "reestr-readme-"));
  try {
    for (const [i, text] of examples.entries()) {
      const file = join(dir, `example-${i}.yaml`);
      await writeFile(file, text);
      await assert.doesNotReject(loadConfig({ file }), `README example ${i}:\n${text}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
