/**
 * The dashboard's static files (the build of `ui/`, `npm run build:ui`) on the server's port,
 * behind every other route: it is the Connect adapter's fallback, so it only ever sees paths
 * that name no procedure (and `/metrics` is answered before it), and it can never shadow an
 * RPC. GET and HEAD only; anything else keeps the adapter's plain 404.
 *
 * - `/` is `index.html`, revalidated on every load (`no-cache` with an ETag); files under
 *   `/assets/` carry a content hash in their name and are cached for a year (`immutable`).
 * - Text files are sent gzip-compressed to clients that accept it (compressed once, kept).
 * - Headers keep the page to itself: a Content-Security-Policy that allows only this origin
 *   (scripts, styles, calls), no framing, no referrer, no MIME sniffing.
 * - The files are read from disk once and kept (the build is a few hundred KB); a rebuild is
 *   served after a restart. A missing build answers `/` with a page that says how to build it.
 * Keep in line with the README's "Dashboard" section.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { dirname, extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { IncomingHttpHeaders } from "node:http";

/** What the route reads of a request (HTTP/1.1 or HTTP/2). */
interface RouteRequest {
  readonly method?: string;
  readonly url?: string;
  readonly headers: IncomingHttpHeaders;
}

/** What the route writes of a response (HTTP/1.1 or HTTP/2). */
interface RouteResponse {
  writeHead(status: number, headers?: Record<string, string>): unknown;
  end(body?: string | Uint8Array): unknown;
}

/** The route: the Connect adapter's `fallback`, or any Node request handler. */
export type DashboardHandler = (request: RouteRequest, response: RouteResponse) => void;

/** Content types by file extension; files of other extensions are not served. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
};
const COMPRESSIBLE = new Set([".html", ".js", ".css", ".svg", ".json", ".txt"]);

/** The headers every dashboard response carries. */
export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
};

interface StaticFile {
  body: Buffer;
  gzipped?: Buffer;
  contentType: string;
  etag: string;
  cacheControl: string;
}

/**
 * The built dashboard of this package: `ui/dist` in the package's root (the nearest folder
 * above this file with Taskwire's `package.json`), whether the server runs from `src/` or a build.
 */
export function defaultDashboardDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "taskwire") return join(dir, "ui", "dist");
      } catch {
        // not the package's manifest; keep looking
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return join(process.cwd(), "ui", "dist");
    dir = parent;
  }
}

async function listFiles(root: string, dir = root): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files = await Promise.all(
    entries.map(async (entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return listFiles(root, path);
      return entry.isFile() ? [path] : [];
    }),
  );
  return files.flat();
}

/** Reads the build in `dir` into memory; an empty map when there is none. */
async function loadFiles(dir: string): Promise<Map<string, StaticFile>> {
  const files = new Map<string, StaticFile>();
  if (!existsSync(join(dir, "index.html"))) return files;
  for (const path of await listFiles(dir)) {
    const extension = extname(path).toLowerCase();
    const contentType = CONTENT_TYPES[extension];
    if (contentType === undefined) continue;
    const urlPath = `/${relative(dir, path).split(sep).join("/")}`;
    const body = await readFile(path);
    files.set(urlPath, {
      body,
      gzipped: COMPRESSIBLE.has(extension) && body.length > 512 ? gzipSync(body, { level: 9 }) : undefined,
      contentType,
      etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`,
      cacheControl: urlPath.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache",
    });
  }
  return files;
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Taskwire</title>
<h1>Taskwire</h1><p>The dashboard is not built. Run <code>npm run build:ui</code> (or <code>npm ci</code>, which builds it) and restart the server.</p>
<p>The API is served on this port.</p>\n`;

/** The request path of a URL, `/` being `/index.html`; undefined when it is not a plain path. */
function filePath(url: string | undefined): string | undefined {
  const path = (url ?? "/").split(/[?#]/, 1)[0] ?? "/";
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  if (!decoded.startsWith("/") || decoded.includes("\\") || decoded.includes("\0") || decoded.split("/").some((part) => part === "..")) return undefined;
  return decoded === "/" ? "/index.html" : decoded;
}

/**
 * A fallback handler that serves the dashboard from `dir` and answers 404 for everything else;
 * see the file header. `enabled` false: a plain 404 for every path.
 */
export function dashboardRoute(options: { dir: string; enabled: boolean }): DashboardHandler {
  let loading: Promise<Map<string, StaticFile>> | undefined;
  return (request, response) => {
    const notFound = (): void => {
      response.writeHead(404, { "Content-Type": "text/plain; charset=utf-8", ...DASHBOARD_HEADERS });
      response.end("not found\n");
    };
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(404);
      response.end();
      return;
    }
    const path = filePath(request.url);
    if (!options.enabled || path === undefined) {
      notFound();
      return;
    }
    loading ??= loadFiles(options.dir).catch(() => new Map<string, StaticFile>());
    void loading.then((files) => {
      const file = files.get(path);
      if (file === undefined) {
        if (files.size === 0 && path === "/index.html") {
          response.writeHead(404, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", ...DASHBOARD_HEADERS });
          response.end(request.method === "HEAD" ? "" : NOT_BUILT);
          return;
        }
        notFound();
        return;
      }
      const headers: Record<string, string> = {
        "Content-Type": file.contentType,
        "Cache-Control": file.cacheControl,
        ETag: file.etag,
        Vary: "Accept-Encoding",
        ...DASHBOARD_HEADERS,
      };
      if (request.headers["if-none-match"] === file.etag) {
        response.writeHead(304, headers);
        response.end();
        return;
      }
      const gzip = file.gzipped !== undefined && /\bgzip\b/.test(String(request.headers["accept-encoding"] ?? ""));
      const body = gzip ? (file.gzipped as Buffer) : file.body;
      if (gzip) headers["Content-Encoding"] = "gzip";
      headers["Content-Length"] = String(body.length);
      response.writeHead(200, headers);
      if (request.method === "HEAD") response.end();
      else response.end(body);
    });
  };
}
