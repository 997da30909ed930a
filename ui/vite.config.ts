/**
 * Builds the dashboard (`npm run build:ui`) into `ui/dist/`, which the server serves at `/`
 * (`src/server/transport/dashboard-route.ts`). Preact with JSX compiled by Vite's own transform;
 * no dev server proxy is needed: `npx vite --config ui/vite.config.ts` serves the page, and
 * `TASKWIRE_CORS_ORIGINS=http://localhost:5173` lets it call a local server (see the README).
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    assetsDir: "assets",
    reportCompressedSize: false,
    modulePreload: { polyfill: false },
  },
});
