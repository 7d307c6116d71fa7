/**
 * Vite build of the web catalogue: root is src/web (index.html), output goes to dist/web at the
 * repository root, which `reestr serve` serves (src/web/static.ts). Hashed file names under
 * assets/ let the server cache them as immutable.
 *
 * `npm run build:web` runs `vite build --config src/web/vite.config.ts`. For development,
 * `npx vite --config src/web/vite.config.ts` proxies /api to a running `reestr serve`
 * (REESTR_URL, default http://127.0.0.1:5000).
 */
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));
const outDir = fileURLToPath(new URL("../../dist/web", import.meta.url));

export default defineConfig({
  root,
  base: "/",
  plugins: [react()],
  publicDir: "public",
  build: {
    outDir,
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    assetsDir: "assets",
    chunkSizeWarningLimit: 600,
    // Libraries in their own chunk: a change to the app leaves the (larger, immutable-cached)
    // vendor file valid in browsers.
    rolldownOptions: {
      output: { codeSplitting: { groups: [{ name: "vendor", test: /node_modules/ }] } },
    },
  },
  server: {
    proxy: { "/api": process.env.REESTR_URL ?? "http://127.0.0.1:5000" },
  },
});
