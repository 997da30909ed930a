/**
 * `GET /metrics` on the server's port (HTTP/1.1 or h2c), in front of the Connect handler: the
 * Prometheus text exposition, optionally behind an API key (`metrics-access.ts`). Any other
 * path passes through; Connect's routes all start with a service name, so none is shadowed.
 * Keep in line with the README's "Metrics" section.
 */
import type { HttpHandler } from "./http-server.js";

/** The path served. */
export const METRICS_PATH = "/metrics";

/** What the route serves, and who may read it. */
export interface MetricsEndpoint {
  /** The exposition. */
  render(): Promise<{ contentType: string; body: string }>;
  /** Checks a request's `authorization` header: a refusal, or undefined to serve. */
  authorize(authorization: string | undefined): { status: 401 | 403; message: string } | undefined;
}

function isMetricsPath(url: string | undefined): boolean {
  if (url === undefined || !url.startsWith(METRICS_PATH)) return false;
  const rest = url.slice(METRICS_PATH.length);
  return rest === "" || rest.startsWith("?");
}

/** Serves {@link METRICS_PATH} from `endpoint`, every other request from `handler`. */
export function withMetricsRoute(handler: HttpHandler, endpoint: MetricsEndpoint): HttpHandler {
  return (request, response) => {
    if (!isMetricsPath(request.url)) {
      handler(request, response);
      return;
    }
    const text = (status: number, message: string, headers: Record<string, string> = {}): void => {
      response.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", ...headers });
      response.end(`${message}\n`);
    };
    if (request.method !== "GET" && request.method !== "HEAD") {
      text(405, `${METRICS_PATH} answers GET only`, { Allow: "GET, HEAD" });
      return;
    }
    const refusal = endpoint.authorize(request.headers.authorization);
    if (refusal !== undefined) {
      text(refusal.status, refusal.message, refusal.status === 401 ? { "WWW-Authenticate": 'Bearer realm="taskwire"' } : {});
      return;
    }
    endpoint.render().then(
      ({ contentType, body }) => {
        response.writeHead(200, { "Content-Type": contentType, "Cache-Control": "no-store" });
        response.end(request.method === "HEAD" ? "" : body);
      },
      () => text(500, "the metrics could not be collected"),
    );
  };
}
