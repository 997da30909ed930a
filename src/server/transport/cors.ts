/**
 * CORS for browsers calling the server with Connect or gRPC-Web from another origin (a
 * dashboard on `https://app.example` calling `https://tasks.example`). Off unless origins are
 * configured (`TASKWIRE_CORS_ORIGINS`): non-browser clients never need it. Preflight requests
 * (`OPTIONS` with `Access-Control-Request-Method`) from an allowed origin are answered here;
 * other requests pass through with the CORS response headers added.
 */
import { cors as connectCors } from "@connectrpc/connect";
import type { HttpHandler } from "./http-server.js";

/** Methods browsers may use: POST for every protocol, GET for Connect's cacheable unary calls. */
export const CORS_ALLOWED_METHODS: readonly string[] = [...connectCors.allowedMethods, "OPTIONS"];

/** Request headers browsers may send: the protocols' own, and `Authorization`. */
export const CORS_ALLOWED_HEADERS: readonly string[] = [...connectCors.allowedHeaders, "Authorization"];

/** Response headers scripts may read: the gRPC-Web status trailers-in-headers and Taskwire's reason. */
export const CORS_EXPOSED_HEADERS: readonly string[] = [...connectCors.exposedHeaders, "Taskwire-Reason"];

/** How long browsers may cache a preflight answer, in seconds. */
export const CORS_MAX_AGE_SECONDS = 7200;

/** Whether `origin` is allowed by `allowed` (exact origins, or `*` for any). */
export function originAllowed(origin: string, allowed: readonly string[]): boolean {
  return allowed.includes("*") || allowed.includes(origin);
}

/**
 * Wraps `handler` with CORS for `allowedOrigins` (exact origins like `https://app.example`, or
 * `*`). With no origins, returns `handler` unchanged.
 */
export function withCors(handler: HttpHandler, allowedOrigins: readonly string[]): HttpHandler {
  if (allowedOrigins.length === 0) return handler;
  return (request, response) => {
    const origin = request.headers.origin;
    if (origin === undefined) {
      handler(request, response);
      return;
    }
    const allowed = originAllowed(origin, allowedOrigins);
    const preflight = request.method === "OPTIONS" && request.headers["access-control-request-method"] !== undefined;
    response.setHeader("Vary", "Origin");
    if (preflight) {
      if (!allowed) {
        response.writeHead(403, { "Content-Type": "text/plain" });
        response.end(`origin ${origin} is not allowed (TASKWIRE_CORS_ORIGINS)`);
        return;
      }
      response.writeHead(204, {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": CORS_ALLOWED_METHODS.join(", "),
        "Access-Control-Allow-Headers": CORS_ALLOWED_HEADERS.join(", "),
        "Access-Control-Max-Age": String(CORS_MAX_AGE_SECONDS),
        Vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
      });
      response.end();
      return;
    }
    if (allowed) {
      response.setHeader("Access-Control-Allow-Origin", origin);
      response.setHeader("Access-Control-Expose-Headers", CORS_EXPOSED_HEADERS.join(", "));
    }
    handler(request, response);
  };
}
