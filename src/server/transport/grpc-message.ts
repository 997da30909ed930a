/**
 * `grpc-message` carries the error text of a gRPC response, percent-encoded. The gRPC spec
 * asks senders to encode only `%` and bytes outside printable ASCII; connect-es encodes with
 * `encodeURIComponent`, and grpc-js decodes with `decodeURI`, which leaves `%3A`, `%2C`, `%3B`…
 * in the text its users see. This rewrites the header in the spec's minimal encoding, which every
 * decoder reads back the same.
 */
import type { OutgoingHttpHeaders } from "node:http";
import type { HttpHandler } from "./http-server.js";

/** Percent-encodes `%` and everything outside printable ASCII, as the gRPC spec asks. */
export function encodeGrpcMessage(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function rewrite(headers: OutgoingHttpHeaders | undefined): void {
  const value = headers?.["grpc-message"];
  if (headers && typeof value === "string") {
    try {
      headers["grpc-message"] = encodeGrpcMessage(decodeURIComponent(value));
    } catch {
      // Not valid percent-encoding: leave it as it was.
    }
  }
}

/** Wraps a handler so gRPC responses carry `grpc-message` in the minimal encoding. */
export function withMinimalGrpcMessage(handler: HttpHandler): HttpHandler {
  return (request, response) => {
    const contentType = request.headers["content-type"] ?? "";
    if (contentType.startsWith("application/grpc") && !contentType.startsWith("application/grpc-web")) {
      const writeHead = response.writeHead.bind(response) as (status: number, headers?: OutgoingHttpHeaders) => unknown;
      const addTrailers = response.addTrailers.bind(response) as (headers: OutgoingHttpHeaders) => void;
      Object.assign(response, {
        writeHead(status: number, headers?: OutgoingHttpHeaders) {
          rewrite(headers);
          return writeHead(status, headers);
        },
        addTrailers(headers: OutgoingHttpHeaders) {
          rewrite(headers);
          addTrailers(headers);
        },
      });
    }
    handler(request, response);
  };
}
