import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ConfigError, loadServerConfig } from "../../src/config/config.js";
import { originAllowed, withCors } from "../../src/server/transport/cors.js";

describe("TASKWIRE_CORS_ORIGINS", () => {
  it("is empty by default", () => {
    expect(loadServerConfig({}).corsOrigins).toEqual([]);
  });

  it("takes a comma-separated list of origins, or *", () => {
    expect(loadServerConfig({ TASKWIRE_CORS_ORIGINS: " https://app.example, http://localhost:8080 ," }).corsOrigins).toEqual([
      "https://app.example",
      "http://localhost:8080",
    ]);
    expect(loadServerConfig({}, { corsOrigins: "*" }).corsOrigins).toEqual(["*"]);
  });

  it.each(["app.example", "https://app.example/", "https://app.example/path", "*.example"])("refuses %j, naming the setting", (value) => {
    expect(() => loadServerConfig({ TASKWIRE_CORS_ORIGINS: value })).toThrow(ConfigError);
    expect(() => loadServerConfig({ TASKWIRE_CORS_ORIGINS: value })).toThrow("TASKWIRE_CORS_ORIGINS (--cors-origins)");
  });
});

describe("originAllowed", () => {
  it("matches exact origins, or any with *", () => {
    expect(originAllowed("https://app.example", ["https://app.example"])).toBe(true);
    expect(originAllowed("https://app.example:8443", ["https://app.example"])).toBe(false);
    expect(originAllowed("http://anything", ["*"])).toBe(true);
  });
});

describe("withCors", () => {
  let server: Server;
  let handled = 0;

  beforeAll(async () => {
    server = createServer(
      withCors((_req, res) => {
        handled++;
        res.writeHead(200, { "Content-Type": "text/plain" });
        res.end("handled");
      }, ["*"]),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  });

  afterAll(() => new Promise((resolve) => server.close(resolve)));

  function send(method: string, headers: Record<string, string>) {
    return new Promise<{ status: number; headers: IncomingHttpHeaders }>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: (server.address() as AddressInfo).port, method, headers }, (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      });
      req.on("error", reject);
      req.end();
    });
  }

  it("answers preflights itself, echoing the origin (also with *)", async () => {
    const before = handled;
    const response = await send("OPTIONS", { Origin: "http://x.example", "Access-Control-Request-Method": "POST" });
    expect(response.status).toBe(204);
    expect(response.headers["access-control-allow-origin"]).toBe("http://x.example");
    expect(handled).toBe(before);
  });

  it("passes requests without Origin through untouched", async () => {
    const response = await send("POST", {});
    expect(response.status).toBe(200);
    expect(response.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("leaves a plain OPTIONS (no preflight) to the handler", async () => {
    const response = await send("OPTIONS", { Origin: "http://x.example" });
    expect(response.status).toBe(200);
    expect(response.headers["access-control-allow-origin"]).toBe("http://x.example");
  });
});
