/**
 * Preloaded by scripts/test-unit.ts into every test file's process: a unit test that listens on a
 * socket or spawns a child process fails with an error saying so. The test runner's own process
 * (which spawns one child per test file) is left alone: only node:test's children have
 * NODE_TEST_CONTEXT set.
 */
import childProcess from "node:child_process";
import { syncBuiltinESMExports } from "node:module";
import net from "node:net";

function refuse(what: string): never {
  throw new Error(
    `${what} in a unit test: unit tests start no servers or processes. If this test needs one, ` +
      "add the helper that starts it to STARTS_SERVER_OR_PROCESS in scripts/test-unit.ts",
  );
}

if (process.env.NODE_TEST_CONTEXT !== undefined) {
  net.Server.prototype.listen = () => refuse("listening on a socket");
  const spawning = ["spawn", "spawnSync", "exec", "execSync", "execFile", "execFileSync", "fork"] as const;
  for (const name of spawning) {
    Object.defineProperty(childProcess, name, { value: () => refuse(`child_process.${name}`) });
  }
  // Named imports of node:child_process (`import { spawn } …`) see the replacements too.
  syncBuiltinESMExports();
}
