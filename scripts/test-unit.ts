/**
 * `npm run test:unit`: the tests that start no server and no child process, for quick feedback
 * while working (`npm test` still runs everything).
 *
 * A test file (test/**\/*.test.ts, src/**\/*.test.ts) is a unit test unless its text calls
 * something that starts a server or a process (STARTS_SERVER_OR_PROCESS below), so a new unit test
 * is picked up without editing anything. The selected files run with scripts/unit-guard.ts
 * preloaded, which fails a test that listens on a socket or spawns a process anyway: a helper
 * that does, under a name not listed here, shows up as a failure naming this file instead of
 * slowing the unit run down unnoticed.
 *
 * Arguments go to `node --test` (`npm run test:unit -- --test-name-pattern=digest`);
 * `--list` prints the selected files instead of running them.
 */
import { spawnSync } from "node:child_process";
import { globSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Calls that start a server or a child process: the project's test helpers, then Node's own. */
const STARTS_SERVER_OR_PROCESS = [
  /\b(startServer|startUiServer|startReestr|spawnServer|startDistribution|startRedis|startPostgres|startCatalogue|startOperator|runOperator|launchBrowser|listen)\(/,
  /\bFakeKubeApi\.start\(/,
  /\bnew TrivyScanner\(/,
  /\bcreateServer\(/,
  /\.listen\(/,
  /["']node:child_process["']/,
];

export function unitTestFiles(): string[] {
  return globSync(["test/**/*.test.ts", "src/**/*.test.ts"], { cwd: ROOT })
    .filter((file) => {
      const text = readFileSync(`${ROOT}/${file}`, "utf8");
      return !STARTS_SERVER_OR_PROCESS.some((pattern) => pattern.test(text));
    })
    .sort();
}

if (import.meta.main) {
  const files = unitTestFiles();
  const args = process.argv.slice(2);
  if (args.includes("--list")) {
    console.log(files.join("\n"));
  } else {
    const run = spawnSync(
      process.execPath,
      ["--import", "./scripts/unit-guard.ts", "--test", "--test-concurrency=2", ...args, ...files],
      { cwd: ROOT, stdio: "inherit" },
    );
    process.exitCode = run.status ?? 1;
  }
}
