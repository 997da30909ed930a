/**
 * deploy/docker/Dockerfile run as shell steps, without a Docker engine: each stage is a folder
 * under a temporary directory standing in for its file system (an absolute path `/app` of the
 * stage is `<stage folder>/app`); WORKDIR, COPY (from the build context as .dockerignore leaves
 * it, or `--from` an earlier stage), ENV, RUN (bash, in the WORKDIR, with the stage's
 * environment) and USER are carried out; the other instructions are recorded. npm uses its cache
 * first (`prefer-offline`), as a CI layer cache would.
 *
 * The image's user `node` does not exist on this machine: it is `nobody` here, for `chown` in a
 * RUN step and for the processes the image starts (`runAsImageUser`).
 */
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { dockerEnv, dockerIgnore, loadDockerfile } from "./deploy-files.js";

/** The image's users as this machine has them. */
const USERS: Record<string, string> = { node: "nobody" };

/** The runtime stage as the image would start it. */
export interface ImageStage {
  /** The stage's file system root. */
  root: string;
  /** WORKDIR, as a path inside `root`. */
  workdir: string;
  /** ENV, with the stage's absolute paths inside `root`. */
  env: Record<string, string>;
  /** USER, as this machine's user. */
  user: string | undefined;
  entrypoint: string[];
  cmd: string[];
  healthcheck: string[];
}

/** Every stage, by name; the last one is what the image runs. */
export interface BuiltImage {
  stages: Map<string, ImageStage>;
  runtime: ImageStage;
}

/** An absolute path of a stage's file system, in `root`. */
function inStage(root: string, path: string): string {
  return join(root, path);
}

/** Copies the build context as .dockerignore leaves it. */
function copyContext(context: string, into: string): void {
  const ignored = new Set(dockerIgnore());
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(context, dir), { withFileTypes: true })) {
      const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
      if (ignored.has(path)) continue;
      if (entry.isDirectory()) {
        walk(path);
      } else {
        mkdirSync(join(into, dir), { recursive: true });
        cpSync(join(context, path), join(into, path));
      }
    }
  };
  walk("");
}

/** The files a COPY source names: a path, or a pattern with `*` in its last part. */
function expand(base: string, source: string): string[] {
  if (!source.includes("*")) return [join(base, source)];
  const dir = join(base, dirname(source));
  const pattern = new RegExp(`^${source.split("/").pop()!.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
  return readdirSync(dir)
    .filter((name) => pattern.test(name))
    .map((name) => join(dir, name));
}

function jsonArray(text: string): string[] {
  return JSON.parse(text) as string[];
}

function run(script: string, cwd: string, env: Record<string, string>, log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", `set -euo pipefail\n${script}`], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("error", reject);
    child.once("exit", (code) => {
      log(`RUN ${script}\n${output}`);
      if (code === 0) resolve();
      else reject(new Error(`RUN ${script} exited ${code}:\n${output.slice(-4000)}`));
    });
  });
}

/**
 * Carries out the Dockerfile's steps with `context` as the build context, each stage in a folder
 * of `into`. @throws the output of the first RUN step that fails.
 */
export async function runDockerfile(context: string, into: string, log: (line: string) => void = () => {}): Promise<BuiltImage> {
  const stages = new Map<string, ImageStage>();
  let stage: ImageStage | undefined;
  const current = (): ImageStage => {
    if (!stage) throw new Error("an instruction before FROM");
    return stage;
  };
  for (const { keyword, args } of loadDockerfile()) {
    switch (keyword) {
      case "ARG":
        break;
      case "FROM": {
        const name = / AS (\S+)$/i.exec(args)?.[1] ?? `stage-${stages.size}`;
        const root = join(into, name);
        mkdirSync(root, { recursive: true });
        stage = { root, workdir: root, env: {}, user: undefined, entrypoint: [], cmd: [], healthcheck: [] };
        stages.set(name, stage);
        break;
      }
      case "WORKDIR":
        current().workdir = inStage(current().root, args);
        mkdirSync(current().workdir, { recursive: true });
        break;
      case "ENV":
        for (const [name, value] of Object.entries(dockerEnv(args))) {
          current().env[name] = value
            .split(":")
            .map((part) => (part === "$PATH" ? (process.env.PATH ?? "") : part.startsWith("/") ? inStage(current().root, part) : part))
            .join(":");
        }
        break;
      case "COPY": {
        const words = args.split(/\s+/);
        const from = words[0]?.startsWith("--from=") ? stages.get(words.shift()!.slice("--from=".length)) : undefined;
        const dest = join(current().workdir, words.pop()!);
        for (const source of words) {
          if (from === undefined && source === ".") {
            copyContext(context, dest);
            continue;
          }
          const files = from === undefined ? expand(context, source) : expand(from.root, source);
          if (files.length === 0) throw new Error(`COPY ${args}: nothing matches ${source}`);
          for (const file of files) cpSync(file, join(dest, relative(dirname(file), file)), { recursive: true });
        }
        break;
      }
      case "RUN": {
        const script = args.replace(/chown (\w+):(\w+)/g, (_, user: string) => `chown ${USERS[user] ?? user}`);
        const env = { ...process.env, ...current().env, npm_config_prefer_offline: "true", npm_config_update_notifier: "false" } as Record<string, string>;
        // The test suite's own condition must not reach the build (it names sources the image has not).
        delete env.NODE_OPTIONS;
        await run(script, current().workdir, env, log);
        break;
      }
      case "USER":
        current().user = USERS[args] ?? args;
        break;
      case "ENTRYPOINT":
        current().entrypoint = jsonArray(args);
        break;
      case "CMD":
        current().cmd = jsonArray(args);
        break;
      case "HEALTHCHECK":
        current().healthcheck = jsonArray(args.slice(args.indexOf("CMD ") + 4));
        break;
      case "EXPOSE":
        break;
      default:
        throw new Error(`the image test does not know ${keyword}`);
    }
  }
  return { stages, runtime: current() };
}

/** Whether this process can start others as another user (root, with runuser). */
export const CAN_SWITCH_USER = process.getuid?.() === 0 && existsSync("/usr/sbin/runuser") && spawnSync("id", ["nobody"]).status === 0;

/** `command` as the image's user when this machine can switch to it, else as this user. */
export function asImageUser(image: ImageStage, command: string[]): string[] {
  return CAN_SWITCH_USER && image.user !== undefined ? ["runuser", "-u", image.user, "--", ...command] : command;
}
