/**
 * The dashboard for tests: a fresh build of `ui/` (Vite, as `npm run build:ui` does) into a
 * temporary folder per test file, so a test always serves the current sources and two files
 * never write one folder at once; and the first-load size of a build.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { ROOT } from "./server.js";

/** A build of the dashboard, and how to remove it. */
export interface DashboardBuild {
  dir: string;
  remove(): Promise<void>;
}

/** Builds `ui/` into a new temporary folder. */
export async function buildDashboard(): Promise<DashboardBuild> {
  const dir = await mkdtemp(join(tmpdir(), "taskwire-ui-"));
  const { build } = await import("vite");
  await build({ configFile: join(ROOT, "ui/vite.config.ts"), logLevel: "warn", build: { outDir: dir, emptyOutDir: true } });
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** The files a first load of `index.html` fetches (itself, and the scripts, styles and icons it names), with their gzip sizes. */
export async function firstLoad(dir: string): Promise<{ file: string; gzipBytes: number }[]> {
  const html = await readFile(join(dir, "index.html"), "utf8");
  const referenced = [...html.matchAll(/(?:src|href)="\.?\/?([^"]+)"/g)].map((m) => m[1] as string);
  const files = ["index.html", ...new Set(referenced)];
  return Promise.all(files.map(async (file) => ({ file, gzipBytes: gzipSync(await readFile(join(dir, file)), { level: 9 }).length })));
}
