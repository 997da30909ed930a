import { describe, expect, it } from "vitest";
import { encodeGrpcMessage } from "../../src/server/transport/grpc-message.js";

describe("encodeGrpcMessage", () => {
  it("leaves printable ASCII as it is, except %", () => {
    expect(encodeGrpcMessage('id: "x", y; z? 100%')).toBe('id: "x", y; z? 100%25');
  });

  it("encodes non-ASCII and control bytes as UTF-8 percent escapes that decodeURI reads back", () => {
    const text = "täsk\nfailed ✓";
    const encoded = encodeGrpcMessage(text);
    expect(encoded).toBe("t%C3%A4sk%0Afailed %E2%9C%93");
    expect(decodeURI(encoded)).toBe(text);
    expect(decodeURIComponent(encoded)).toBe(text);
  });
});
