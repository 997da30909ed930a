/**
 * The README's "Clients" section, run as written: every `buf curl` / `curl` command of its
 * tested block against a server with the quick start's example worker (only the address
 * changes), and every `buf.gen.yaml` template of "Generating clients for other languages"
 * through `buf generate` (the Python one to the end; Go and Java as far as their plugins, which
 * this machine does not have, allow).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "../../src/client/index.js";
import { BUF, runCommand } from "../support/buf-curl.js";
import { readmeBlocks, runReadmeShell, type ShellResult } from "../support/readme.js";
import { eventually, ROOT, startTestServer, type TestServer } from "../support/server.js";

const commands = readmeBlocks("clients", "sh");
const templates = readmeBlocks("codegen", "yaml");

/** The block whose text contains `marker`. */
function block(marker: string): string {
  const found = commands.find((text) => text.includes(marker));
  expect(found, `a README command block with ${marker}`).toBeDefined();
  return found ?? "";
}

/** Concatenated JSON values, as buf curl prints a stream: split and parsed. */
function jsonValues(text: string): unknown[] {
  const values: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") {
      if (depth++ === 0) start = i;
    } else if (c === "}" && --depth === 0) values.push(JSON.parse(text.slice(start, i + 1)));
  }
  return values;
}

function ok(result: ShellResult): ShellResult {
  expect(result.code, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(0);
  return result;
}

describe("README clients: buf curl and curl", () => {
  let server: TestServer;
  let address: string;
  let worker: ChildProcess;

  beforeAll(async () => {
    server = await startTestServer();
    address = server.url.replace("http://", "");
    // The quick start's worker: the examples the commands submit to.
    worker = spawn(process.execPath, ["bin/taskwire.js", "worker", "start", "--url", server.url, "--tasks", "examples/tasks.ts"], {
      cwd: ROOT,
      stdio: "ignore",
    });
    const client = createClient({ url: server.url });
    await eventually(async () => (await client.listTypes()).some((t) => t.name === "examples.long_running" && t.workerCount > 0), 20_000, "the example worker");
    client.close();
  });

  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      const exited = new Promise((resolve) => worker.once("exit", resolve));
      worker.kill("SIGTERM");
      await exited;
    }
    await server?.stop();
  });

  it("has the commands the section promises", () => {
    expect(commands.length).toBeGreaterThanOrEqual(6);
    for (const text of commands) expect(text).toContain("127.0.0.1:50051");
  });

  it("lists every service and method through reflection", async () => {
    const { stdout } = ok(await runReadmeShell(block("--list-methods"), address));
    const services = new Set(stdout.trim().split("\n").map((line) => line.split("/")[0]));
    expect([...services].sort()).toEqual([
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "taskwire.v1.AdminService",
      "taskwire.v1.ScheduleService",
      "taskwire.v1.TaskService",
      "taskwire.v1.WorkerService",
    ]);
    expect(stdout).toContain("taskwire.v1.TaskService/StreamProgress");
  });

  it("submits JSON and typed input", async () => {
    const { stdout } = ok(await runReadmeShell(block("examples.factorial"), address));
    const answers = jsonValues(stdout) as { task: { type: string; state: string; input: Record<string, unknown> } }[];
    expect(answers.map((a) => a.task.type)).toEqual(["examples.process_data", "examples.factorial"]);
    expect(answers[1]?.task.input).toEqual({ "@type": "type.googleapis.com/google.protobuf.UInt32Value", value: 20 });
  });

  it("follows progress to the end, then reads the result", async () => {
    const { stdout } = ok(await runReadmeShell(block('"steps": 4'), address));
    const values = jsonValues(stdout) as { state?: string; progress?: { message?: string }; task?: { state: string; output?: unknown } }[];
    const events = values.filter((v) => v.task === undefined);
    expect(events.map((e) => e.progress?.message)).toContain("step 4 of 4");
    expect(events.at(-1)?.state).toBe("TASK_STATE_SUCCEEDED");
    expect(values.at(-1)?.task).toMatchObject({ state: "TASK_STATE_SUCCEEDED", output: { "@type": "type.googleapis.com/google.protobuf.Struct" } });
  });

  it("cancels", async () => {
    const { stdout } = ok(await runReadmeShell(block("/Cancel"), address));
    const [answer] = jsonValues(stdout) as { task: { state: string } }[];
    expect(answer?.task.state).toMatch(/^TASK_STATE_CANCELL(ING|ED)$/);
  });

  it("works over plain HTTP/1.1: curl for unary calls, buf curl --schema for streaming", async () => {
    const { stdout } = ok(await runReadmeShell(block("--schema proto"), address));
    const values = jsonValues(stdout) as { state?: string; task?: { state: string; output?: unknown } }[];
    expect(values.filter((v) => v.task === undefined).at(-1)?.state).toBe("TASK_STATE_SUCCEEDED");
    expect(values.at(-1)?.task?.state).toBe("TASK_STATE_SUCCEEDED");
  });

  it("checks health", async () => {
    const { stdout } = ok(await runReadmeShell(block("grpc.health.v1.Health/Check"), address));
    expect(JSON.parse(stdout)).toEqual({ status: "SERVING" });
  });
});

describe("README clients: buf.gen.yaml templates", () => {
  let workdir: string;
  const hasProtoc = spawnSync("bash", ["-c", "command -v protoc && command -v grpc_python_plugin"]).status === 0;

  beforeAll(async () => {
    // A copy of proto/, so generated code lands in a temporary folder, not in this checkout.
    workdir = await mkdtemp(join(tmpdir(), "taskwire-codegen-"));
    await cp(`${ROOT}proto`, join(workdir, "proto"), { recursive: true });
  });

  afterAll(async () => {
    if (workdir) await rm(workdir, { recursive: true, force: true });
  });

  it("has Go, Java and Python templates", () => {
    expect(templates.map((t) => /out: gen\/(\w+)/.exec(t)?.[1])).toEqual(["go", "java", "python"]);
  });

  it.each(["go", "java"])("the %s template is valid: buf stops only at the missing plugins", async (language) => {
    const template = templates.find((t) => t.includes(`out: gen/${language}`)) ?? "";
    await writeFile(join(workdir, `buf.gen.${language}.yaml`), template);
    const result = await runCommand(BUF, ["generate", "--template", `buf.gen.${language}.yaml`], 60_000, { cwd: workdir });
    if (result.code !== 0) {
      const problems = result.stderr.split("\n").filter((line) => line.trim() !== "" && !/executable file not found|context canceled|signal: killed/.test(line));
      expect(problems, result.stderr).toEqual([]);
    }
  });

  it.skipIf(!hasProtoc && process.env.CI !== "true")("the Python template generates importable code", async () => {
    const template = templates.find((t) => t.includes("out: gen/python")) ?? "";
    await writeFile(join(workdir, "buf.gen.python.yaml"), template);
    const result = await runCommand(BUF, ["generate", "--template", "buf.gen.python.yaml"], 60_000, { cwd: workdir });
    expect(result.code, result.stderr).toBe(0);
    const imported = await runCommand(
      "/usr/bin/python3",
      ["-c", "import sys; sys.path.insert(0, 'gen/python'); from taskwire.v1 import task_service_pb2_grpc; from google.rpc import error_details_pb2; print('ok')"],
      30_000,
      { cwd: workdir },
    );
    expect(imported.stdout.trim(), imported.stderr).toBe("ok");
  });
});
