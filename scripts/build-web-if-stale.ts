/**
 * Builds the web catalogue (dist/web) when it is missing or older than its sources, so that
 * `npm start` always serves the app the checkout holds without rebuilding on every start.
 * Stale means: some file under src/web, or package-lock.json (dependency versions), is newer
 * than dist/web/index.html.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SOURCES = [join(ROOT, "src/web"), join(ROOT, "package-lock.json")];
const BUILT = join(ROOT, "dist/web/index.html");

function newestMtime(path: string): number {
  const info = statSync(path, { throwIfNoEntry: false });
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

export function webBuildIsStale(): boolean {
  const built = statSync(BUILT, { throwIfNoEntry: false });
  if (!built) return true;
  return SOURCES.some((source) => newestMtime(source) > built.mtimeMs);
}

if (import.meta.main) {
  if (webBuildIsStale()) {
    // Vite is a dev dependency: without it (npm ci --omit=dev) the registry and /api still start,
    // and the browser paths answer 503 saying how to build the app.
    let vite: typeof import("vite") | undefined;
    try {
      vite = await import("vite");
    } catch {
      process.stderr.write(
        "web catalogue: not built and Vite is not installed (npm ci without --omit=dev, then npm run build:web); starting without it\n",
      );
    }
    if (vite) {
      process.stderr.write("web catalogue: building dist/web …\n");
      await vite.build({ configFile: join(ROOT, "src/web/vite.config.ts"), logLevel: "warn" });
      process.stderr.write("web catalogue: built\n");
    }
  }
}
