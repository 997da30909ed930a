/**
 * Bounds on what callers hold open (issue 15, "Streams"): followers (StreamProgress streams and
 * waiting GetResult calls) per API key and per server, concurrent HTTP/2 streams per connection,
 * and an idle-connection timeout; and a message over the server's limit sent by the SDK is
 * refused by the server with RESOURCE_EXHAUSTED rather than failing on the client.
 */
import { connect as connectHttp2, type ClientHttp2Session } from "node:http2";
import { connect as connectTcp } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient as createRpcClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { TaskService } from "../../gen/taskwire/v1/task_service_pb.js";
import { createClient } from "../../src/client/index.js";
import { testKey, writeKeysFile, type TestKey } from "../support/keys.js";
import { hello, rawWorker, type RawWorker } from "../support/raw-worker.js";
import { startTestServer, type TestServer } from "../support/server.js";

const TYPE = "limits.follow";

describe("followers per API key and per server", () => {
  const alice = testKey("alice", "client");
  const bob = testKey("bob", "client");
  const admin = testKey("ops", "admin");
  let dir: string;
  let server: TestServer;
  let declarer: RawWorker;
  let rpc: Client<typeof TaskService>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "taskwire-limits-"));
    const apiKeysFile = await writeKeysFile(join(dir, "keys.txt"), [alice, bob, admin]);
    server = await startTestServer({ apiKeysFile, maxSubscribersPerKey: 3, maxSubscribers: 5 });
    rpc = createRpcClient(TaskService, createGrpcTransport({ baseUrl: server.url }));
    declarer = rawWorker(server.url, admin.headers);
    declarer.send(hello("limits-follow", "limits-follow", [{ name: TYPE, inputType: StructSchema.typeName, outputType: StructSchema.typeName }]));
    await declarer.nextOf("welcome");
  });

  afterAll(async () => {
    declarer?.end();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Opens a StreamProgress stream as `key` and waits for its first event (its place is then taken). */
  async function follow(key: TestKey, id: string) {
    const controller = new AbortController();
    const events = rpc.streamProgress({ id }, { signal: controller.signal, headers: key.headers })[Symbol.asyncIterator]();
    await events.next();
    return () => controller.abort();
  }

  const refused = (call: Promise<unknown>) => call.then(() => undefined, (e: unknown) => ConnectError.from(e));

  it("refuses a key's follower beyond maxSubscribersPerKey, and any beyond maxSubscribers, naming the setting", async () => {
    const asAlice = createClient({ url: server.url, headers: alice.headers });
    const asBob = createClient({ url: server.url, headers: bob.headers });
    try {
      const aliceTasks = await Promise.all([1, 2, 3, 4].map(() => asAlice.submitByName(TYPE, {}, { queue: "limits-follow" })));
      const bobTasks = await Promise.all([1, 2, 3].map(() => asBob.submitByName(TYPE, {}, { queue: "limits-follow" })));
      // Three followers of alice, on three tasks: her limit.
      const held = await Promise.all(aliceTasks.slice(0, 3).map((t) => follow(alice, t.id)));
      const fourth = await refused(follow(alice, aliceTasks[3]!.id));
      expect({ code: Code[fourth!.code], message: fourth!.rawMessage }).toEqual({
        code: Code[Code.ResourceExhausted],
        message:
          'API key "alice" already has 3 subscribers (StreamProgress streams and waiting GetResult calls) on this server, the limit set by TASKWIRE_MAX_SUBSCRIBERS_PER_KEY (--max-subscribers-per-key); close some, or poll GetStatus',
      });
      expect(fourth!.metadata.get("taskwire-reason")).toBe("TOO_MANY_SUBSCRIBERS");
      // A waiting GetResult counts too.
      expect((await refused(rpc.getResult({ id: aliceTasks[3]!.id, wait: { seconds: 10n } }, { headers: alice.headers })))?.code).toBe(Code.ResourceExhausted);

      // Bob is not concerned by alice's limit, but the server holds five in all.
      held.push(...(await Promise.all(bobTasks.slice(0, 2).map((t) => follow(bob, t.id)))));
      const sixth = await refused(follow(bob, bobTasks[2]!.id));
      expect(sixth?.rawMessage).toBe(
        "this server already holds 5 subscribers, the limit set by TASKWIRE_MAX_SUBSCRIBERS (--max-subscribers); try again later or poll GetStatus",
      );

      // Places are given back when followers leave.
      held.shift()!();
      const again = await (async () => {
        for (;;) {
          const result = await refused(follow(alice, aliceTasks[3]!.id).then((close) => held.push(close)));
          if (result === undefined) return true;
          await new Promise<void>((resolve) => setImmediate(resolve)); // the server sees the abort on its next read
        }
      })();
      expect(again).toBe(true);
      for (const close of held) close();
    } finally {
      asAlice.close();
      asBob.close();
    }
  });
});

describe("HTTP/2 connections", () => {
  let server: TestServer;
  let declarer: RawWorker;

  beforeAll(async () => {
    server = await startTestServer({ maxStreamsPerConnection: 2, idleTimeoutMs: 300 });
    declarer = rawWorker(server.url);
    declarer.send(hello("limits-conn", "limits-conn", [{ name: TYPE, inputType: StructSchema.typeName, outputType: StructSchema.typeName }]));
    await declarer.nextOf("welcome");
  });

  afterAll(async () => {
    declarer?.end();
    await server?.stop();
  });

  /** A raw HTTP/2 connection and the promise of its close. */
  async function session(): Promise<{ session: ClientHttp2Session; closed: Promise<void>; goaway: Promise<number> }> {
    const s = connectHttp2(server.url);
    s.on("error", () => {});
    const closed = new Promise<void>((resolve) => s.once("close", () => resolve()));
    const goaway = new Promise<number>((resolve) => s.once("goaway", (code) => resolve(code)));
    await new Promise<void>((resolve) => s.once("remoteSettings", () => resolve()));
    return { session: s, closed, goaway };
  }

  /** Makes one gRPC call of `path` on `s` and waits for its end. */
  function call(s: ClientHttp2Session, path: string, body = Buffer.from([0, 0, 0, 0, 0])): Promise<void> {
    return new Promise((resolve, reject) => {
      const request = s.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
      request.on("data", () => {});
      request.on("error", reject);
      request.on("close", () => resolve());
      request.end(body);
    });
  }

  it("advertises maxStreamsPerConnection as SETTINGS_MAX_CONCURRENT_STREAMS", async () => {
    const { session: s } = await session();
    expect(s.remoteSettings.maxConcurrentStreams).toBe(2);
    s.destroy();
  });

  it("closes a connection with no call open for idleTimeoutMs (GOAWAY), and drops one that never sends a byte", async () => {
    const { session: s, closed, goaway } = await session();
    await call(s, "/grpc.health.v1.Health/Check");
    expect(await goaway).toBe(0); // NO_ERROR: a graceful close
    await closed;

    const socket = connectTcp(Number(new URL(server.url).port), "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("close", () => resolve()));
  });

  it("keeps a quiet connection whose call is still open, while an idle one beside it is closed", async () => {
    const client = createClient({ url: server.url });
    const busy = await session();
    const idle = await session();
    try {
      const task = await client.submitByName(TYPE, {}, { queue: "limits-conn" });
      // StreamProgress on a queued task: one event, then nothing until the task changes.
      const request = busy.session.request({ ":method": "POST", ":path": "/taskwire.v1.TaskService/StreamProgress", "content-type": "application/grpc", te: "trailers" });
      const firstEvent = new Promise<void>((resolve) => request.once("data", () => resolve()));
      const id = Buffer.from(task.id);
      request.end(Buffer.concat([Buffer.from([0, 0, 0, 0, id.length + 2, 0x0a, id.length]), id])); // StreamProgressRequest { id }
      await firstEvent;
      await idle.closed;
      expect(busy.session.closed || busy.session.destroyed).toBe(false);
      await task.cancel(); // ends the stream (terminal state), and then the connection idles out
      await busy.closed;
    } finally {
      client.close();
      busy.session.destroy();
    }
  });

  it("lets the SDK's client send a message over maxMessageBytes, for the server to refuse with RESOURCE_EXHAUSTED", async () => {
    const client = createClient({ url: server.url });
    try {
      const error = await client.submitByName(TYPE, { blob: "x".repeat(12 * 1024 * 1024) }, { queue: "limits-conn" }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect({ code: Code[error!.code], message: error!.rawMessage }).toEqual({
        code: Code[Code.ResourceExhausted],
        message: expect.stringMatching(/^message size \d+ is larger than configured readMaxBytes 8388608$/),
      });
    } finally {
      client.close();
    }
  });
});
