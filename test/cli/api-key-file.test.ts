/**
 * `--api-key-file` / `TASKWIRE_API_KEY_FILE`: the API key from a file, as a mounted Docker or
 * Kubernetes secret gives it (deploy/compose/compose.prod.yaml); a bad file is a usage error.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/logger.js";
import { testKey } from "../support/keys.js";
import { runCli, startTestServer, type TestServer } from "../support/server.js";

describe("--api-key-file", () => {
  let server: TestServer;
  let dir: string;
  let token: string;

  beforeAll(async () => {
    const key = testKey("file-admin", "admin");
    token = key.token;
    server = await startTestServer({ apiKeys: key.env }, silentLogger());
    dir = await mkdtemp(join(tmpdir(), "taskwire-key-file-"));
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("sends the key the file holds, from the flag or TASKWIRE_API_KEY_FILE", async () => {
    const file = join(dir, "key");
    await writeFile(file, `${token}\n`);
    const refused = await runCli(["--url", server.url, "types"]);
    expect(refused.code).toBe(1);
    const flag = await runCli(["--url", server.url, "--api-key-file", file, "types"]);
    expect(flag, flag.stderr).toMatchObject({ code: 0 });
    const env = await runCli(["--url", server.url, "types"], { TASKWIRE_API_KEY_FILE: file });
    expect(env, env.stderr).toMatchObject({ code: 0 });
  });

  it("refuses a file it cannot read, or an empty one, with exit 2", async () => {
    const missing = await runCli(["--url", server.url, "--api-key-file", join(dir, "absent"), "types"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`--api-key-file: cannot read ${join(dir, "absent")}: ENOENT`);
    const empty = join(dir, "empty");
    await writeFile(empty, "\n");
    const blank = await runCli(["--url", server.url, "--api-key-file", empty, "types"]);
    expect(blank.code).toBe(2);
    expect(blank.stderr).toContain(`--api-key-file: ${empty} is empty`);
  });
});
