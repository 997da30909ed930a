/**
 * The package and the image, built once from the current working tree, in a temporary folder:
 *
 * - deploy/docker/Dockerfile's steps run as shell steps (`support/dockerfile-steps.ts`): the
 *   build stage runs `npm ci`, `npm run build` and `npm pack`; the runtime stage installs that
 *   tarball with production dependencies only. The image's processes run as its unprivileged
 *   user where this machine allows (as root: `runuser -u nobody`).
 * - The package: the tarball holds no tests, bench or CI; a fresh TypeScript project installs it,
 *   type-checks files importing every entry point with `strict`, and runs its own worker and
 *   client (compiled JavaScript on plain Node) against the package's `taskwire server`; the client
 *   entry loads nothing of the server.
 * - Every taskwire service of the compose files and every container of the Kubernetes manifests,
 *   with its exact command and environment, as local processes against the local Redis and
 *   PostgreSQL (`support/processes.ts` says what the local machine changes), checked with the
 *   health checks and probes the files declare, and given tasks on each queue group.
 *
 * Slow by nature (an `npm ci` and a full build): one build for the whole file.
 * `TASKWIRE_IMAGE_CONTEXT=<dir>` builds another tree (a copy of this one) instead of the checkout.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "../../src/client/index.js";
import { dropSchema, TEST_DATABASE_URL, uniqueSchemaName } from "../support/database.js";
import { TEST_REDIS_URL, uniquePrefix } from "../support/redis.js";
import { eventually, ROOT } from "../support/server.js";
import { deployments, loadCompose, loadKubernetes, type ComposeService } from "./support/deploy-files.js";
import { asImageUser, CAN_SWITCH_USER, runDockerfile, type BuiltImage } from "./support/dockerfile-steps.js";
import { freePort, localArgs, localEnvironment, runProcess, startProcess, stopProcess, type LocalMachine, type Watched } from "./support/processes.js";

const BUILD_TIMEOUT = 900_000;

/** A user's task module, as an image built FROM taskwire has it in /app/tasks (compose.prod, Kubernetes). */
const USER_TASKS = `
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { defineTask } from "taskwire/worker";

export const echo = defineTask({ name: "deploy.echo", input: StructSchema, output: StructSchema }, async (input, ctx) => {
  ctx.progress({ percent: 100, message: "echoed" });
  return { ...input, queues: process.env.TASKWIRE_QUEUES ?? "" };
});
`;

let dir: string;
let image: BuiltImage;
let app: string;
let tarball: string;
const schemas: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "taskwire-image-"));
  // The image's user reads the installed app; nothing else of the temporary folder is secret.
  chmodSync(dir, 0o755);
  const log: string[] = [];
  try {
    image = await runDockerfile(process.env.TASKWIRE_IMAGE_CONTEXT ?? ROOT, join(dir, "image"), (line) => log.push(line));
  } catch (error) {
    throw new Error(`${String(error)}\n--- steps so far ---\n${log.join("\n").slice(-6000)}`);
  }
  app = image.runtime.workdir;
  const build = image.stages.get("build")!.workdir;
  tarball = join(build, readdirSync(build).find((name) => /^taskwire-.*\.tgz$/.test(name))!);
  mkdirSync(join(app, "tasks"), { recursive: true });
  writeFileSync(join(app, "tasks", "index.js"), USER_TASKS);
}, BUILD_TIMEOUT);

afterAll(async () => {
  await Promise.all(schemas.map((schema) => dropSchema(schema)));
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The image's environment, as `docker run` gives it: ENV of the runtime stage, and HOME for npm. */
function imageEnv(): Record<string, string> {
  return { ...image.runtime.env, HOME: dir };
}

/** A fresh local machine: its own Redis prefix and PostgreSQL schema, free ports for `containerPorts`. */
async function localMachine(containerPorts: string[]): Promise<LocalMachine> {
  const schema = uniqueSchemaName();
  schemas.push(schema);
  const ports: Record<string, number> = {};
  for (const port of containerPorts) ports[port] = await freePort();
  return { redisUrl: TEST_REDIS_URL, redisPrefix: uniquePrefix(), databaseUrl: TEST_DATABASE_URL, databaseSchema: schema, hosts: {}, ports, paths: { "/app": app } };
}

/** Starts a container's `command` with `env` (both as written in the file) here. */
function startContainer(command: string[], env: Record<string, string>, machine: LocalMachine): Watched {
  const full = localEnvironment({ ...imageEnv(), ...env }, machine);
  // The image's PATH finds `taskwire` (the entrypoint) in /app/node_modules/.bin.
  return startProcess(asImageUser(image.runtime, ["env", `PATH=${full.PATH}`, ...image.runtime.entrypoint, ...localArgs(command, machine)]), full, app);
}

/** Runs a health check command (`CMD taskwire ...`) of a compose file or the image, as written, here. */
async function healthy(test: string[], env: Record<string, string>, machine: LocalMachine): Promise<void> {
  const command = test[0] === "CMD" ? test.slice(1) : test;
  const full = localEnvironment({ ...imageEnv(), ...env }, machine);
  await eventually(async () => (await runProcess(asImageUser(image.runtime, ["env", `PATH=${full.PATH}`, ...localArgs(command, machine)]), full, app)).code === 0, 60_000, command.join(" "));
}

describe("the Dockerfile's steps", () => {
  it("install the packed tarball: the CLI, no tests, bench or CI", () => {
    const installed = join(app, "node_modules", "taskwire");
    const top = readdirSync(installed).sort();
    expect(top).toEqual(expect.arrayContaining(["bin", "dist", "package.json", "proto"]));
    for (const absent of ["test", "bench", ".ci", "src", "deploy", "node_modules"]) expect(top).not.toContain(absent);
    const dist = readdirSync(join(installed, "dist"));
    expect(dist.sort()).toEqual(["cli", "drizzle", "examples", "gen", "src"]);
    expect(JSON.parse(readFileSync(join(app, "package.json"), "utf8")).dependencies).toHaveProperty("taskwire");
  });

  it("give an image whose user runs taskwire on plain Node (no tsx loaded)", async () => {
    expect(image.runtime.user).toBe("nobody");
    const help = await runProcess(asImageUser(image.runtime, ["env", `PATH=${imageEnv().PATH}`, "taskwire", "--help"]), imageEnv(), app);
    expect(help.code, help.output).toBe(0);
    expect(help.output).toContain("Usage: taskwire");
    const whoami = await runProcess(asImageUser(image.runtime, ["id", "-un"]), imageEnv(), app);
    expect(whoami.output.trim()).toBe(CAN_SWITCH_USER ? "nobody" : whoami.output.trim());
  });
});

describe("the package in a fresh TypeScript project", () => {
  let project: string;
  let server: Watched | undefined;
  let url: string;

  beforeAll(async () => {
    project = join(dir, "project");
    mkdirSync(join(project, "src"), { recursive: true });
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "an-application", private: true, type: "module" }));
    const protobuf = JSON.parse(readFileSync(join(ROOT, "node_modules/@bufbuild/protobuf/package.json"), "utf8")).version as string;
    const nodeTypes = JSON.parse(readFileSync(join(ROOT, "node_modules/@types/node/package.json"), "utf8")).version as string;
    const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? dir, npm_config_prefer_offline: "true", npm_config_update_notifier: "false" };
    const install = await runProcess(["npm", "install", "--no-audit", "--no-fund", tarball, `@bufbuild/protobuf@${protobuf}`, `@types/node@${nodeTypes}`], env, project);
    expect(install.code, install.output).toBe(0);
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        // As `tsc --init` writes it: skipLibCheck, since drizzle-orm's declarations of its other
        // databases do not check without their drivers; the misuse below shows the types are real.
        compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, skipLibCheck: true, outDir: "out", types: ["node"] },
        include: ["src"],
      }),
    );
    writeFileSync(join(project, "src", "tasks.ts"), USER_TASKS);
    writeFileSync(
      join(project, "src", "worker.ts"),
      `import { Worker, type WorkerOptions } from "taskwire/worker";
import { echo } from "./tasks.js";
const options: WorkerOptions = { url: process.env.TASKWIRE_URL!, tasks: [echo], concurrency: 2 };
const worker = new Worker(options);
process.once("SIGTERM", () => void worker.shutdown());
await worker.run();
`,
    );
    writeFileSync(
      join(project, "src", "client.ts"),
      `import { createClient, TaskState } from "taskwire/client";
import { defineTask } from "taskwire";
import { TaskService } from "taskwire/contracts/task_service";
import { echo } from "./tasks.js";
const same: typeof defineTask = defineTask;
const client = createClient({ url: process.env.TASKWIRE_URL! });
const handle = await client.submit(echo, { from: "client" }, { priority: 10 });
const output = await handle.result({ timeout: "60s" });
const status = await client.getStatus(handle.id);
console.log(JSON.stringify({ output, state: TaskState[status.state], queue: status.queue, service: TaskService.typeName, same: typeof same }));
client.close();
`,
    );
    writeFileSync(
      join(project, "src", "embed.ts"),
      `import { loadServerConfig, silentLogger, startServer, type TaskwireServer } from "taskwire/server";
export async function embedded(): Promise<TaskwireServer> {
  return startServer(loadServerConfig(process.env, { port: 0 }), silentLogger());
}
`,
    );
    // What a client-only application loads: every package a resolve hook sees.
    writeFileSync(
      join(project, "client-only.mjs"),
      `import { register } from "node:module";
const seen = new Set();
const { port1, port2 } = new MessageChannel();
port1.on("message", (url) => { const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(url); if (m) seen.add(m[1]); });
port1.unref();
register("data:text/javascript," + encodeURIComponent("let port; export function initialize(data) { port = data.port; } export async function resolve(s, c, next) { const r = await next(s, c); port.postMessage(r.url); return r; }"), { data: { port: port2 }, transferList: [port2] });
await import("taskwire/client");
await new Promise((resolve) => setTimeout(resolve, 200));
console.log(JSON.stringify([...seen].sort()));
`,
    );
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const schema = uniqueSchemaName();
    schemas.push(schema);
    server = startProcess(
      [join(project, "node_modules/.bin/taskwire"), "server"],
      {
        PATH: process.env.PATH ?? "",
        TASKWIRE_PORT: String(port),
        TASKWIRE_REDIS_URL: TEST_REDIS_URL,
        TASKWIRE_REDIS_PREFIX: uniquePrefix(),
        TASKWIRE_DATABASE_URL: TEST_DATABASE_URL,
        TASKWIRE_DATABASE_SCHEMA: schema,
        TASKWIRE_LOG_FORMAT: "json",
      },
      project,
    );
    await server.waitFor(/listening/, 60_000);
  }, BUILD_TIMEOUT);

  afterAll(async () => {
    await stopProcess(server);
  });

  it("type-checks files importing every entry point with strict, and compiles them", async () => {
    const tscBin = join(ROOT, "node_modules/typescript/bin/tsc");
    const tsc = await runProcess([process.execPath, tscBin, "-p", project], { PATH: process.env.PATH ?? "" }, project);
    expect(tsc.code, tsc.output).toBe(0);
    // A wrong input and a wrong use of the output are type errors, not any.
    const misuse = join(project, "misuse");
    mkdirSync(misuse, { recursive: true });
    writeFileSync(
      join(misuse, "misuse.ts"),
      `import { UInt32ValueSchema, StringValueSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "taskwire/client";
import { defineTask } from "taskwire/worker";
const square = defineTask({ name: "misuse.square", input: UInt32ValueSchema, output: StringValueSchema }, async (input) => ({ value: String(input.value ** 2) }));
const client = createClient({ url: "http://127.0.0.1:1" });
const handle = await client.submit(square, { value: "three" });
const n: number = (await handle.result()).value;
`,
    );
    writeFileSync(join(misuse, "tsconfig.json"), JSON.stringify({ extends: "../tsconfig.json", compilerOptions: { noEmit: true }, include: ["misuse.ts"] }));
    const wrong = await runProcess([process.execPath, tscBin, "-p", misuse], { PATH: process.env.PATH ?? "" }, project);
    expect(wrong.code).not.toBe(0);
    expect(wrong.output).toMatch(/misuse\.ts\(6,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/);
    expect(wrong.output).toMatch(/misuse\.ts\(7,7\): error TS2322: Type 'string' is not assignable to type 'number'/);
  }, 120_000);

  it("runs its worker and client, compiled, on plain Node against the package's server", async () => {
    const env = { PATH: process.env.PATH ?? "", TASKWIRE_URL: url };
    const worker = startProcess([process.execPath, "out/worker.js"], env, project);
    const probe = createClient({ url });
    try {
      await eventually(async () => (await probe.listTypes()).some((type) => type.name === "deploy.echo" && type.workerCount > 0), 60_000, "the worker connected");
      const client = await runProcess([process.execPath, "out/client.js"], env, project);
      expect(client.code, `${client.output}\n--- worker ---\n${worker.output}`).toBe(0);
      expect(JSON.parse(client.output.trim().split("\n").pop()!)).toEqual({
        output: { from: "client", queues: "" },
        state: "SUCCEEDED",
        queue: "high_priority",
        service: "taskwire.v1.TaskService",
        same: "function",
      });
    } finally {
      probe.close();
      await stopProcess(worker);
    }
  }, 120_000);

  it("loads nothing of the server for a client-only application", async () => {
    const loaded = await runProcess([process.execPath, "client-only.mjs"], { PATH: process.env.PATH ?? "" }, project);
    expect(loaded.code, loaded.output).toBe(0);
    const packages = JSON.parse(loaded.output.trim()) as string[];
    expect(packages).toContain("@connectrpc/connect-node");
    for (const server of ["@electric-sql/pglite", "drizzle-orm", "ioredis", "postgres", "pino", "prom-client", "tsx"]) expect(packages).not.toContain(server);
  });
});

/** Submits one task to each of `queues` and returns the worker id that ran each. */
async function runOnQueues(url: string, queues: string[], headers?: Record<string, string>): Promise<Record<string, string>> {
  const client = createClient({ url, headers });
  try {
    const ran: Record<string, string> = {};
    for (const queue of queues) {
      const handle = await client.submitByName("deploy.echo", { queue }, { queue });
      await handle.result({ timeout: "60s" });
      ran[queue] = (await client.getStatus(handle.id)).workerId;
    }
    return ran;
  } finally {
    client.close();
  }
}

describe.each(["compose.dev.yaml", "compose.prod.yaml"])("%s services as local processes", (file) => {
  const running: Watched[] = [];
  afterAll(async () => {
    for (const process of running.reverse()) await stopProcess(process);
  });

  it("serve tasks with their exact commands and environment, healthy by their own checks", async () => {
    const secrets = join(dir, `secrets-${file}`);
    mkdirSync(secrets, { recursive: true });
    chmodSync(secrets, 0o755);
    const keys = JSON.parse((await runProcess([join(app, "node_modules/.bin/taskwire"), "keys", "create", "deploy-worker", "--role", "worker", "--json"], imageEnv(), app)).output) as {
      token: string;
      line: string;
    };
    const admin = JSON.parse((await runProcess([join(app, "node_modules/.bin/taskwire"), "keys", "create", "deploy-admin", "--role", "admin", "--json"], imageEnv(), app)).output) as {
      token: string;
      line: string;
    };
    writeFileSync(join(secrets, "taskwire_api_keys"), `${keys.line}\n${admin.line}\n`, { mode: 0o644 });
    writeFileSync(join(secrets, "taskwire_worker_key"), `${keys.token}\n`, { mode: 0o644 });

    const compose = loadCompose(file, { POSTGRES_PASSWORD: "unused-here" });
    const services = Object.entries(compose.services).filter(([, service]) => service.command?.[0] === "server" || service.command?.[0] === "worker");
    const machine = await localMachine(["50051", "9464"]);
    machine.paths["/run/secrets"] = secrets;
    machine.hosts["server:50051"] = `127.0.0.1:${machine.ports["50051"]}`;
    machine.hosts["127.0.0.1:50051"] = `127.0.0.1:${machine.ports["50051"]}`;
    const byRole = (role: string): [string, ComposeService][] => services.filter(([, service]) => service.command?.[0] === role);

    for (const [, service] of byRole("server")) {
      const server = startContainer(service.command!, service.environment ?? {}, machine);
      running.push(server);
      await healthy(service.healthcheck!.test, service.environment ?? {}, machine);
    }
    const workerIds: Record<string, string> = {};
    for (const [name, service] of byRole("worker")) {
      // Each worker service gets its own metrics port here (one host for all of them).
      const own: LocalMachine = { ...machine, ports: { ...machine.ports, "9464": await freePort() } };
      own.hosts = { ...machine.hosts, "127.0.0.1:9464": `127.0.0.1:${own.ports["9464"]}` };
      const worker = startContainer(service.command!, service.environment ?? {}, own);
      running.push(worker);
      await worker.waitFor(/^worker (\S+) serving/m);
      workerIds[name] = /^worker (\S+) serving/m.exec(worker.output)![1]!;
      await healthy(service.healthcheck!.test, service.environment ?? {}, own);
    }
    const url = `http://127.0.0.1:${machine.ports["50051"]}`;
    const headers = file === "compose.prod.yaml" ? { authorization: `Bearer ${admin.token}` } : undefined;
    if (file === "compose.dev.yaml") {
      // The dev worker serves the examples from the package.
      const client = createClient({ url });
      const handle = await client.submitByName("examples.long_running", { seconds: 0.2, steps: 2 });
      expect(await handle.result({ timeout: "60s" })).toEqual({ seconds: 0.2, steps: 2 });
      client.close();
    } else {
      const ran = await runOnQueues(url, ["high_priority", "default", "low_priority"], headers);
      expect(ran.high_priority).toBe(workerIds["worker-high"]);
      expect(ran.default).toBe(workerIds["worker-default"]);
      expect(ran.low_priority).toBe(workerIds["worker-default"]);
    }
  }, 240_000);
});

describe("Kubernetes containers as local processes", () => {
  const running: Watched[] = [];
  afterAll(async () => {
    for (const process of running.reverse()) await stopProcess(process);
  });

  it("serve tasks per queue group, ready and live by their probes", async () => {
    const { objects } = loadKubernetes();
    const secret = objects.find((object) => object.kind === "Secret")!.stringData!;
    const admin = JSON.parse((await runProcess([join(app, "node_modules/.bin/taskwire"), "keys", "create", "k8s-admin", "--role", "admin", "--json"], imageEnv(), app)).output) as {
      token: string;
      line: string;
    };
    const worker = JSON.parse((await runProcess([join(app, "node_modules/.bin/taskwire"), "keys", "create", "k8s-worker", "--role", "worker", "--json"], imageEnv(), app)).output) as {
      token: string;
      line: string;
    };
    // The Secret's values as an operator fills them in.
    const values: Record<string, string> = { ...secret, "api-keys.txt": `${worker.line}\n${admin.line}\n`, "worker-key": worker.token };
    const mounted = join(dir, "etc-taskwire");
    mkdirSync(mounted, { recursive: true });
    chmodSync(mounted, 0o755);
    writeFileSync(join(mounted, "api-keys.txt"), values["api-keys.txt"]!, { mode: 0o644 });
    const machine = await localMachine(["50051", "9464"]);
    machine.paths["/etc/taskwire"] = mounted;
    machine.hosts["taskwire-server:50051"] = `127.0.0.1:${machine.ports["50051"]}`;

    const containerEnv = (env: { name: string; value?: string; valueFrom?: { secretKeyRef: { key: string } } }[]): Record<string, string> =>
      Object.fromEntries(env.map((variable) => [variable.name, variable.value ?? values[variable.valueFrom!.secretKeyRef.key]!]));
    const all = deployments(objects);
    const serverSpec = all.find((d) => d.name === "taskwire-server")!.spec.containers[0]!;
    const server = startContainer(serverSpec.args, containerEnv(serverSpec.env), machine);
    running.push(server);
    // readinessProbe grpc on the container port: grpc.health.v1, what `taskwire health` asks.
    const grpcPort = machine.ports[String(serverSpec.readinessProbe!.grpc!.port)]!;
    await healthy(["taskwire", "health", "--url", `http://127.0.0.1:${grpcPort}`], {}, machine);

    const workerIds: Record<string, string> = {};
    for (const { name, spec } of all.filter((d) => d.name !== "taskwire-server")) {
      const container = spec.containers[0]!;
      const own: LocalMachine = { ...machine, ports: { ...machine.ports, "9464": await freePort() } };
      const process = startContainer(container.args, containerEnv(container.env), own);
      running.push(process);
      await process.waitFor(/^worker (\S+) serving/m);
      workerIds[name] = /^worker (\S+) serving/m.exec(process.output)![1]!;
      // The probes, as the kubelet sends them: GET on the named metrics port.
      const port = own.ports[String(container.ports.find((p) => p.name === container.readinessProbe!.httpGet!.port)!.containerPort)]!;
      // The port listens once the worker runs, a moment after it printed its line: refused until then.
      const ready = async (): Promise<boolean> =>
        (await fetch(`http://127.0.0.1:${port}${container.readinessProbe!.httpGet!.path}`).catch(() => undefined))?.status === 200;
      await eventually(ready, 60_000, `${name} ready`);
      expect((await fetch(`http://127.0.0.1:${port}${container.livenessProbe!.httpGet!.path}`)).status, `${name} live`).toBe(200);
    }
    const ran = await runOnQueues(`http://127.0.0.1:${machine.ports["50051"]}`, ["high_priority", "default", "low_priority"], { authorization: `Bearer ${admin.token}` });
    expect(ran.high_priority).toBe(workerIds["taskwire-worker-high"]);
    expect(ran.default).toBe(workerIds["taskwire-worker-default"]);
    expect(ran.low_priority).toBe(workerIds["taskwire-worker-default"]);
  }, 240_000);
});
