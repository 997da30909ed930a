/**
 * `taskwire keys create`, in memory: the token, and the keys-file line and environment entry
 * that give the server its hash, with a key group when `--group` names one (the keys of a group
 * own task types and worker ids together). The lines parse back to the key.
 */
import { describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/run.js";
import { hashToken, parseKeysEnv, parseKeysFile } from "../../src/server/auth/index.js";

async function run(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const status = await runCli(args, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: {},
    cwd: process.cwd(),
    signal: new AbortController().signal,
  });
  return { status, stdout, stderr };
}

describe("keys create", () => {
  it("makes a key of a group: its lines carry the group and parse back to it", async () => {
    const made = await run("keys", "create", "gpu-1", "--role", "worker", "--group", "gpu-team", "--json");
    expect(made.status).toBe(0);
    const key = JSON.parse(made.stdout) as { id: string; role: string; group: string; token: string; line: string; env: string };
    expect(key).toMatchObject({ id: "gpu-1", role: "worker", group: "gpu-team" });
    expect(key.line).toMatch(/^gpu-1 worker sha256:[0-9a-f]{64} group=gpu-team$/);
    expect(key.env).toMatch(/^gpu-1:worker:[0-9a-f]{64}:gpu-team$/);
    const expected = [{ id: "gpu-1", role: "worker", hash: hashToken(key.token), group: "gpu-team" }];
    expect(parseKeysFile(key.line, "f")).toEqual(expected);
    expect(parseKeysEnv(key.env, "e")).toEqual(expected);
  });

  it("prints the lines for people, and refuses a bad group name", async () => {
    const made = await run("keys", "create", "gpu-2", "--role", "worker", "--group", "gpu-team");
    expect(made.stdout).toMatch(/^keys file: gpu-2 worker sha256:[0-9a-f]{64} group=gpu-team$/m);
    const bad = await run("keys", "create", "gpu-3", "--role", "worker", "--group", "gpu team");
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain("expected 1 to 64 of letters, digits and _ . @ -");
  });
});
