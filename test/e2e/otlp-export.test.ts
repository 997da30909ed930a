/**
 * `taskwire server` exports its spans over OTLP when the standard OTEL_* variables ask: a real
 * server process, pointed at a small HTTP receiver standing in for a collector, sends the span of
 * a Submit that carried a client's trace context, in that trace, under OTEL_SERVICE_NAME.
 */
import { spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { anyPack, StructSchema } from "@bufbuild/protobuf/wkt";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createClient } from "../../src/client/index.js";
import { ROOT, tempDataDir } from "../support/server.js";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

describe("OTLP export of taskwire server", () => {
  let collector: Server | undefined;
  let dataDir: string | undefined;

  afterAll(async () => {
    collector?.close();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it("sends the submit span of a traced call to the OTLP endpoint", async () => {
    let received: (body: Buffer) => void = () => undefined;
    const exported = new Promise<Buffer>((resolve) => (received = resolve));
    const bodies: Buffer[] = [];
    collector = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        response.writeHead(200, { "content-type": "application/x-protobuf" }).end();
        if (request.url !== "/v1/traces") return;
        const body = Buffer.concat(chunks);
        bodies.push(body);
        if (body.includes("taskwire.submit")) received(body);
      });
    });
    await new Promise<void>((resolve) => collector?.listen(0, "127.0.0.1", resolve));
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    dataDir = await tempDataDir();

    const child = spawn(process.execPath, ["bin/taskwire.js", "server", "--port", "0", "--data-dir", dataDir], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: "taskwire-otlp-test", OTEL_BSP_SCHEDULE_DELAY: "50" },
    });
    let output = "";
    const listening = new Promise<string>((resolve) => {
      const read = (chunk: Buffer) => {
        output += chunk.toString();
        const url = /listening on (http:\/\/\S+)/.exec(output)?.[1];
        if (url) resolve(url);
      };
      child.stdout.on("data", read);
      child.stderr.on("data", read);
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      const url = await Promise.race([listening, exited.then(() => Promise.reject(new Error(`the server exited:\n${output}`)))]);
      expect(output).toContain("exporting traces over OTLP");
      const client = createClient({ url });
      // No worker declared the type: the call fails, and its span is exported all the same.
      const refusal = await client
        .submitByName("nobody.serves.this", anyPack(StructSchema, create(StructSchema)), {}, { headers: { traceparent: TRACEPARENT } })
        .then(() => undefined, (error: unknown) => error);
      expect(refusal instanceof ConnectError ? refusal.code : refusal).toBe(Code.NotFound);
      client.close();
      const body = await exported;
      expect(body.includes(Buffer.from(TRACE_ID, "hex"))).toBe(true);
      expect(body.includes("taskwire-otlp-test")).toBe(true);
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
  }, 120_000);
});
