/**
 * The server's Connect adapter: connect-node's `connectNodeAdapter`, with a gate that decides
 * from a call's headers alone, before a byte of its body is read, whether it may go on. A request
 * body may be several megabytes (`TASKWIRE_MAX_MESSAGE_BYTES`); connect-es reads and parses a
 * unary body before any interceptor runs, so a check in an interceptor would come after that
 * work, for anyone who can reach the port.
 *
 * A call the gate refuses is still answered by connect-es, so the refusal is a proper error of
 * the call's protocol (gRPC trailers, gRPC-Web, Connect unary or streaming, Connect GET), with
 * its details: the request's body is replaced by an empty message of its content type (the
 * real body is never read), and {@link refusalInterceptor} throws the gate's error before the
 * implementation runs. The composition must list that interceptor (right after its error
 * mapper); {@link createGatedNodeAdapter} refuses to build without it.
 */
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { createConnectRouter, createContextKey, createContextValues, Code, ConnectError, type ContextValues, type Interceptor } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";
import {
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
  type ConnectNodeAdapterOptions,
} from "@connectrpc/connect-node";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import type { IncomingHttpHeaders } from "node:http";
import type { HttpHandler } from "./http-server.js";

/** What the gate sees of a call: its procedure and its request headers, no body. */
export interface GatedCall {
  readonly service: DescService;
  readonly method: DescMethod;
  readonly headers: IncomingHttpHeaders;
}

/** The gate's decision: go on (with context values for the handlers), or refuse with an error. */
export type GateDecision = { readonly pass: true; readonly values?: ContextValues } | { readonly pass: false; readonly error: unknown };

/** Decides a call from its headers; see the file header. */
export type CallGate = (call: GatedCall) => GateDecision;

/** The refusal of a call, for {@link refusalInterceptor}. */
const REFUSAL = createContextKey<{ error: unknown } | undefined>(undefined, { description: "taskwire gate refusal" });

/**
 * Throws the gate's refusal of the call before anything else runs; passes every other call.
 * List it right after the error mapper, which turns the refusal into the call's error.
 */
export const refusalInterceptor: Interceptor = (next) => async (request) => {
  const refusal = request.contextValues.get(REFUSAL);
  if (refusal !== undefined) throw refusal.error;
  return next(request);
};

const ENVELOPED = /^application\/(grpc|grpc-web|connect\+)/;

/** A request body holding one empty message in the framing and codec of `contentType`. */
function emptyBody(contentType: string): Uint8Array {
  const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  const json = type.endsWith("json");
  const message = json ? new TextEncoder().encode("{}") : new Uint8Array(0);
  if (!ENVELOPED.test(type)) return message;
  // An envelope: flags (0: not compressed, a message), length (uint32, big-endian), message.
  const envelope = new Uint8Array(5 + message.length);
  new DataView(envelope.buffer).setUint32(1, message.length);
  envelope.set(message, 5);
  return envelope;
}

/** `request` with its body (or, for Connect GET, its query message) replaced by an empty message; see the file header. */
function withEmptyMessage(request: UniversalServerRequest): UniversalServerRequest {
  const header = new Headers(request.header);
  // The empty message is sent as it is: no compression to undo, and not the length announced.
  header.delete("content-encoding");
  header.delete("content-length");
  let url = request.url;
  if (request.method === "GET") {
    const parsed = new URL(request.url);
    const json = parsed.searchParams.get("encoding") === "json";
    parsed.searchParams.delete("compression");
    parsed.searchParams.delete("base64");
    parsed.searchParams.set("message", json ? "{}" : "");
    url = parsed.toString();
  }
  const body = emptyBody(header.get("content-type") ?? "");
  return {
    ...request,
    url,
    header,
    body: (async function* () {
      yield body;
    })(),
  };
}

/**
 * `connectNodeAdapter(options)` with `gate` run on every call's headers first; see the file
 * header. Paths that name no procedure get `fallback` (404 by default), as with connect-node.
 * @throws Error when `options.interceptors` does not list {@link refusalInterceptor}.
 */
export function createGatedNodeAdapter(options: ConnectNodeAdapterOptions & { gate: CallGate }): HttpHandler {
  if (!(options.interceptors ?? []).includes(refusalInterceptor)) {
    throw new Error("createGatedNodeAdapter: options.interceptors must list refusalInterceptor, or refused calls would run");
  }
  const router = createConnectRouter({ ...options, acceptCompression: options.acceptCompression ?? [compressionGzip, compressionBrotli] });
  options.routes(router);
  const prefix = options.requestPathPrefix ?? "";
  const paths = new Map<string, UniversalHandler>();
  for (const handler of router.handlers) paths.set(prefix + handler.requestPath, handler);

  return (request, response) => {
    const handler = paths.get(request.url?.split("?", 2)[0] ?? "");
    if (handler === undefined) {
      if (options.fallback) options.fallback(request, response);
      else {
        response.writeHead(404);
        response.end();
      }
      return;
    }
    const decision = options.gate({ service: handler.service, method: handler.method, headers: request.headers });
    const values = decision.pass ? (decision.values ?? createContextValues()) : createContextValues().set(REFUSAL, { error: decision.error });
    let universal = universalRequestFromNodeRequest(request, response, undefined, values);
    if (!decision.pass) universal = withEmptyMessage(universal);
    handler(universal)
      .then((reply) => universalResponseToNodeResponse(reply, response))
      .catch((reason: unknown) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        // As connect-node does: the response could not be written (the client went away).
        response.destroy();
      });
  };
}
