import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadServerConfig } from "../../src/config/config.js";
import {
  accessOf,
  authenticate,
  generateToken,
  hashToken,
  isLoopbackHost,
  keyEnvEntry,
  keyFileLine,
  KeyStore,
  loadKeyStore,
  ownedBy,
  parseKeysEnv,
  parseKeysFile,
  resolveAuthMode,
  roleAllows,
  scopedIdempotencyKey,
  shownIdempotencyKey,
  TOKEN_PREFIX,
  visibleTo,
  type ApiKey,
  type Role,
} from "../../src/server/auth/index.js";
import { UnauthenticatedError } from "../../src/core/errors.js";
import type { NewTask } from "../../src/core/task-types.js";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

function key(id: string, role: Role, token: string): ApiKey {
  return { id, role, hash: hashToken(token) };
}

describe("tokens and hashes", () => {
  it("makes random prefixed tokens of 256 bits", () => {
    const a = generateToken();
    const b = generateToken();
    expect(a).not.toBe(b);
    expect(a.startsWith(TOKEN_PREFIX)).toBe(true);
    expect(Buffer.from(a.slice(TOKEN_PREFIX.length), "base64url")).toHaveLength(32);
  });

  it("hashes with SHA-256 into 32 bytes, whatever the token's length", () => {
    expect(hashToken("abc").toString("hex")).toBe(sha256("abc"));
    expect(hashToken("")).toHaveLength(32);
    expect(hashToken("x".repeat(100_000))).toHaveLength(32);
  });

  it("writes the keys-file line and the environment entry that parse back", () => {
    const k = key("ci-worker", "worker", "secret");
    expect(keyFileLine(k)).toBe(`ci-worker worker sha256:${sha256("secret")}`);
    expect(keyEnvEntry(k)).toBe(`ci-worker:worker:${sha256("secret")}`);
    expect(parseKeysFile(keyFileLine(k), "f")).toEqual([k]);
    expect(parseKeysEnv(keyEnvEntry(k), "e")).toEqual([k]);
  });

  it("reads and writes key groups in every format, and names the principal of a key by its group", () => {
    const grouped: ApiKey = { ...key("gpu-1", "worker", "secret"), group: "gpu-team" };
    expect(keyFileLine(grouped)).toBe(`gpu-1 worker sha256:${sha256("secret")} group=gpu-team`);
    expect(keyEnvEntry(grouped)).toBe(`gpu-1:worker:${sha256("secret")}:gpu-team`);
    expect(parseKeysFile(keyFileLine(grouped), "f")).toEqual([grouped]);
    expect(parseKeysEnv(keyEnvEntry(grouped), "e")).toEqual([grouped]);
    expect(parseKeysEnv(`gpu-1:worker:sha256:${sha256("secret")}:gpu-team`, "e")).toEqual([grouped]);
    expect(parseKeysFile(JSON.stringify({ keys: [{ id: "gpu-1", role: "worker", hash: `sha256:${sha256("secret")}`, group: "gpu-team" }] }), "f")).toEqual([grouped]);
    expect(() => parseKeysFile(`gpu-1 worker sha256:${sha256("secret")} team=x`, "f")).toThrow(ConfigError);
    expect(() => parseKeysEnv(`gpu-1:worker:${sha256("secret")}:bad group`, "e")).toThrow(/group names are 1 to 64/);
    const store = new KeyStore([grouped, key("solo", "worker", "other")]);
    expect(authenticate("Bearer secret", store).principal).toBe("group:gpu-team");
    expect(authenticate("Bearer other", store).principal).toBe("key:solo");
  });
});

describe("keys file and environment formats", () => {
  it("reads lines with comments and blank lines", () => {
    const text = `# Taskwire keys\n\nalice client sha256:${sha256("a")}\n  bob   admin   sha256:${sha256("b")}  # ops\r\n`;
    expect(parseKeysFile(text, "keys.txt")).toEqual([key("alice", "client", "a"), key("bob", "admin", "b")]);
  });

  it("reads JSON, an object with keys or a bare array", () => {
    const entries = [{ id: "w1", role: "worker", hash: `sha256:${sha256("w")}` }];
    expect(parseKeysFile(JSON.stringify({ keys: entries }), "keys.json")).toEqual([key("w1", "worker", "w")]);
    expect(parseKeysFile(`  ${JSON.stringify(entries)}`, "keys.json")).toEqual([key("w1", "worker", "w")]);
  });

  it("reads environment entries, with or without sha256:", () => {
    const text = `a:client:${sha256("1")}, b:worker:sha256:${sha256("2")},`;
    expect(parseKeysEnv(text, "TASKWIRE_API_KEYS")).toEqual([key("a", "client", "1"), key("b", "worker", "2")]);
  });

  it.each([
    [`alice client sha256:${sha256("a")} extra`, /keys.txt line 1: expected "<id> <role> sha256:<hex>" and optionally "group=<name>", got 4 fields/],
    [`alice root sha256:${sha256("a")}`, /keys.txt line 1: key "alice" has role "root"; roles are client, worker, viewer, admin/],
    ["alice client tw_plaintexttoken", /keys.txt line 1: key "alice" must give the SHA-256 of its token as 64 hex digits/],
    [`\nal/ice client sha256:${sha256("a")}`, /keys.txt line 2: key id "al\/ice"/],
    ['{"keys": [{"id": "a"}]}', /keys.txt keys\[0\]: expected \{"id": string/],
    ['{"keys": ', /keys.txt is not valid JSON/],
    ['{"users": []}', /expected \{"keys": \[...\]\}/],
  ])("refuses %j naming the place", (text, message) => {
    expect(() => parseKeysFile(text, "keys.txt")).toThrow(ConfigError);
    expect(() => parseKeysFile(text, "keys.txt")).toThrow(message);
  });

  it("refuses malformed environment entries naming the entry", () => {
    expect(() => parseKeysEnv(`a:client:${sha256("1")},b:client`, "TASKWIRE_API_KEYS")).toThrow(/TASKWIRE_API_KEYS entry 2: expected/);
  });
});

describe("KeyStore", () => {
  const store = new KeyStore([key("alice", "client", "token-a"), key("ops", "admin", "token-b")]);

  it("finds the key of a token", () => {
    expect(store.authenticate("token-a")?.id).toBe("alice");
    expect(store.authenticate("token-b")?.role).toBe("admin");
    expect(store.size).toBe(2);
  });

  it("answers undefined for unknown tokens of any length, without throwing", () => {
    for (const token of ["", "t", "token-", "token-aa", "x".repeat(10_000), "ü".repeat(33)]) {
      expect(() => store.authenticate(token)).not.toThrow();
      expect(store.authenticate(token)).toBeUndefined();
    }
  });

  it("refuses duplicate ids and duplicate tokens", () => {
    expect(() => new KeyStore([key("a", "client", "1"), key("a", "worker", "2")])).toThrow(/"a" is configured twice/);
    expect(() => new KeyStore([key("a", "client", "1"), key("b", "worker", "1")])).toThrow(/same token/);
  });

  it("describes keys without their hashes", () => {
    expect(JSON.stringify(store.describe())).not.toContain(sha256("token-a"));
  });
});

describe("loadKeyStore", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "taskwire-keys-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("merges the keys file and the environment", async () => {
    const file = join(dir, "keys.txt");
    await writeFile(file, `alice client sha256:${sha256("a")}\n`);
    const config = loadServerConfig({ TASKWIRE_API_KEYS_FILE: file, TASKWIRE_API_KEYS: `w:worker:${sha256("w")}` });
    const store = await loadKeyStore(config);
    expect(store.authenticate("a")?.id).toBe("alice");
    expect(store.authenticate("w")?.id).toBe("w");
  });

  it("names the setting when the file cannot be read or a key is twice", async () => {
    await expect(loadKeyStore({ apiKeysFile: join(dir, "missing"), apiKeys: undefined })).rejects.toThrow(
      /TASKWIRE_API_KEYS_FILE \(--api-keys-file\): cannot read/,
    );
    const file = join(dir, "dup.txt");
    await writeFile(file, `alice client sha256:${sha256("a")}\n`);
    await expect(loadKeyStore({ apiKeysFile: file, apiKeys: `alice:admin:${sha256("b")}` })).rejects.toThrow(/"alice" is configured twice/);
  });
});

describe("authentication mode", () => {
  const keys = new KeyStore([key("alice", "client", "a")]);
  const none = new KeyStore([]);
  const config = (env: Record<string, string>) => loadServerConfig(env);

  it.each(["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST", "::ffff:127.0.0.1"])("%s is loopback", (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });
  it.each(["0.0.0.0", "::", "10.0.0.1", "192.168.1.2", "tasks.example", "128.0.0.1"])("%s is not loopback", (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });

  it("is off on loopback without keys, keys when configured", () => {
    expect(resolveAuthMode(config({}), none)).toEqual({ kind: "off", exposed: false });
    expect(resolveAuthMode(config({ TASKWIRE_API_KEYS: `alice:client:${sha256("a")}`, TASKWIRE_HOST: "0.0.0.0" }), keys)).toEqual({ kind: "keys", keys });
  });

  it("refuses a non-loopback host without keys, naming the settings", () => {
    const attempt = () => resolveAuthMode(config({ TASKWIRE_HOST: "0.0.0.0" }), none);
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/listens on 0\.0\.0\.0 .*TASKWIRE_API_KEYS_FILE \(--api-keys-file\) or TASKWIRE_API_KEYS \(--api-keys\).*TASKWIRE_AUTH \(--auth\) off/);
  });

  it("serves without keys off loopback only with TASKWIRE_AUTH=off", () => {
    expect(resolveAuthMode(config({ TASKWIRE_HOST: "0.0.0.0", TASKWIRE_AUTH: "off" }), none)).toEqual({ kind: "off", exposed: true });
  });

  it("refuses contradictions: off with keys, on without keys, a keys source with no keys", () => {
    expect(() => resolveAuthMode(config({ TASKWIRE_AUTH: "off", TASKWIRE_API_KEYS: `alice:client:${sha256("a")}` }), keys)).toThrow(/is off but API keys are configured/);
    expect(() => resolveAuthMode(config({ TASKWIRE_AUTH: "on" }), none)).toThrow(/TASKWIRE_AUTH \(--auth\) is on but no API keys/);
    expect(() => resolveAuthMode(config({ TASKWIRE_API_KEYS: " , " }), none)).toThrow(/no API keys found/);
  });

  it("refuses a TASKWIRE_AUTH that is neither on nor off", () => {
    expect(() => loadServerConfig({ TASKWIRE_AUTH: "maybe" })).toThrow(/TASKWIRE_AUTH \(--auth\) must be on or off/);
  });
});

describe("roles", () => {
  const families: [string, string, string][] = [
    ["submit", "taskwire.v1.TaskService", "Submit"],
    ["batch", "taskwire.v1.TaskService", "SubmitBatch"],
    ["read", "taskwire.v1.TaskService", "GetStatus"],
    ["wait", "taskwire.v1.TaskService", "GetResult"],
    ["follow", "taskwire.v1.TaskService", "StreamProgress"],
    ["list", "taskwire.v1.TaskService", "ListTasks"],
    ["types", "taskwire.v1.TaskService", "ListTypes"],
    ["cancel", "taskwire.v1.TaskService", "Cancel"],
    ["work", "taskwire.v1.WorkerService", "Connect"],
    ["workers", "taskwire.v1.AdminService", "ListWorkers"],
    ["queues", "taskwire.v1.AdminService", "ListQueues"],
    ["count", "taskwire.v1.AdminService", "CountTasks"],
    ["pause", "taskwire.v1.AdminService", "PauseQueue"],
    ["retry", "taskwire.v1.AdminService", "RetryTasks"],
    ["delete", "taskwire.v1.AdminService", "DeleteTasks"],
  ];
  const expected: Record<Role, string[]> = {
    client: ["submit", "batch", "read", "wait", "follow", "list", "types", "cancel"],
    worker: ["work"],
    viewer: ["read", "wait", "follow", "list", "types", "workers", "queues", "count"],
    admin: families.map(([name]) => name),
  };

  it.each(["client", "worker", "viewer", "admin"] as const)("%s may call exactly its procedures", (role) => {
    const allowed = families.filter(([, service, method]) => roleAllows(role, accessOf(service, method))).map(([name]) => name);
    expect(allowed).toEqual(expected[role]);
  });

  it("keeps health and reflection open, and anything unknown for admins", () => {
    expect(accessOf("grpc.health.v1.Health", "Check")).toBe("open");
    expect(accessOf("grpc.reflection.v1.ServerReflection", "ServerReflectionInfo")).toBe("open");
    expect(accessOf("taskwire.v1.TaskService", "Purge")).toBe("admin");
    expect(roleAllows("client", "admin")).toBe(false);
  });
});

describe("authorization header", () => {
  const keys = new KeyStore([key("alice", "client", "tw_good")]);

  it("takes a bearer token, scheme in any case", () => {
    expect(authenticate("Bearer tw_good", keys)).toEqual({ keyId: "alice", role: "client", principal: "key:alice" });
    expect(authenticate("bearer   tw_good ", keys)).toEqual({ keyId: "alice", role: "client", principal: "key:alice" });
  });

  it.each([
    [null, "API_KEY_MISSING", /missing API key/],
    ["", "API_KEY_MISSING", /missing API key/],
    ["tw_good", "API_KEY_INVALID", /malformed authorization header/],
    ["Basic dXNlcjpwYXNz", "API_KEY_INVALID", /malformed/],
    ["Bearer a b", "API_KEY_INVALID", /malformed/],
    ["Bearer tw_bad", "API_KEY_INVALID", /invalid API key/],
  ])("refuses %j as %s", (header, reason, message) => {
    let error: unknown;
    try {
      authenticate(header, keys);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect(error).toMatchObject({ reason, message: expect.stringMatching(message) as string });
  });
});

describe("ownership", () => {
  const alice = { keyId: "alice", role: "client", principal: "key:alice" } as const;
  const ops = { keyId: "ops", role: "admin", principal: "key:ops" } as const;

  it("lets client keys see their own tasks only, admins and auth-off callers all", () => {
    expect(visibleTo({ submittedBy: "alice" }, alice)).toBe(true);
    expect(visibleTo({ submittedBy: "bob" }, alice)).toBe(false);
    expect(visibleTo({ submittedBy: null }, alice)).toBe(false);
    expect(visibleTo({ submittedBy: "bob" }, ops)).toBe(true);
    expect(visibleTo({ submittedBy: "bob" }, undefined)).toBe(true);
  });

  it("scopes idempotency keys to the submitting key and shows them unscoped", () => {
    const task = { idempotencyKey: "order-1", submittedBy: null } as NewTask;
    const owned = ownedBy(task, alice);
    expect(owned).toMatchObject({ submittedBy: "alice", idempotencyKey: "alice/order-1" });
    expect(shownIdempotencyKey({ idempotencyKey: owned.idempotencyKey, submittedBy: "alice" })).toBe("order-1");
    expect(ownedBy(task, undefined)).toBe(task);
    expect(scopedIdempotencyKey(null, alice)).toBeNull();
    expect(shownIdempotencyKey({ idempotencyKey: "x/y", submittedBy: null })).toBe("x/y");
  });
});
