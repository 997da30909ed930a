/**
 * The files of deploy/ as the deploy tests read them: compose files with Compose's variable
 * interpolation, the Kubernetes manifests of the kustomization, the Dockerfile's instructions,
 * and the names of every TASKWIRE_* variable the programs read.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { SETTINGS } from "../../../src/config/config.js";
import { WORKER_SETTINGS } from "../../../src/config/worker-config.js";
import { ROOT } from "../../support/server.js";

export const DEPLOY = join(ROOT, "deploy");
export const COMPOSE_FILES = ["compose.dev.yaml", "compose.prod.yaml"] as const;

/** Every TASKWIRE_* variable Taskwire reads: the server's, the worker's and the CLI's global options. */
export const KNOWN_VARIABLES = new Set([
  ...Object.values(SETTINGS).map((setting) => setting.env),
  ...Object.values(WORKER_SETTINGS).map((setting) => setting.env),
  "TASKWIRE_URL",
  "TASKWIRE_API_KEY",
  "TASKWIRE_API_KEY_FILE",
  "TASKWIRE_TLS_CA",
]);

/** A compose service, the parts the tests read. */
export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  secrets?: string[];
  volumes?: string[];
  restart?: string;
  stop_grace_period?: string;
  deploy?: { replicas?: number | string; resources?: { limits?: Record<string, unknown> }; restart_policy?: { condition: string } };
}

export interface ComposeFile {
  name: string;
  services: Record<string, ComposeService>;
  secrets?: Record<string, { file: string }>;
  volumes?: Record<string, unknown>;
}

/**
 * Compose's interpolation: `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`,
 * `$$` for a dollar sign. Throws like Compose does for a `:?` variable that is unset or empty.
 */
export function interpolate(text: string, env: Readonly<Record<string, string | undefined>>): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (match, name: string | undefined, operator: string | undefined, operand: string | undefined) => {
    if (match === "$$") return "$";
    const value = env[name!];
    const unsetOrEmpty = value === undefined || value === "";
    switch (operator) {
      case ":-":
        return unsetOrEmpty ? operand! : value;
      case "-":
        return value ?? operand!;
      case ":?":
        if (unsetOrEmpty) throw new Error(`${name}: ${operand}`);
        return value;
      case "?":
        if (value === undefined) throw new Error(`${name}: ${operand}`);
        return value;
      default:
        return value ?? "";
    }
  });
}

/** A compose file of deploy/compose, interpolated with `env`, YAML anchors and merge keys resolved. */
export function loadCompose(file: string, env: Readonly<Record<string, string | undefined>> = {}): ComposeFile {
  const text = interpolate(readFileSync(join(DEPLOY, "compose", file), "utf8"), env);
  return parse(text, { merge: true }) as ComposeFile;
}

/** A Kubernetes object, the parts the tests read. */
export interface KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  stringData?: Record<string, string>;
}

/** The kustomization's resources, each file's documents in order. */
export function loadKubernetes(): { kustomization: { resources: string[]; namespace: string }; objects: KubernetesObject[] } {
  const dir = join(DEPLOY, "kubernetes");
  const kustomization = parse(readFileSync(join(dir, "kustomization.yaml"), "utf8")) as { resources: string[]; namespace: string };
  const objects: KubernetesObject[] = [];
  for (const resource of kustomization.resources) {
    for (const document of parseAllDocuments(readFileSync(join(dir, resource), "utf8"))) {
      if (document.errors.length > 0) throw new Error(`${resource}: ${document.errors[0]?.message}`);
      const object = document.toJS() as KubernetesObject | null;
      if (object !== null) objects.push(object);
    }
  }
  return { kustomization, objects };
}

/** A container of a Deployment, the parts the tests read. */
export interface Container {
  name: string;
  image: string;
  args: string[];
  env: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[];
  ports: { name: string; containerPort: number }[];
  readinessProbe?: Record<string, { port: number | string; path?: string }>;
  livenessProbe?: Record<string, { port: number | string; path?: string }>;
}

/** The Deployments' pod specs. */
export function deployments(objects: readonly KubernetesObject[]): { name: string; spec: { terminationGracePeriodSeconds: number; containers: Container[] } }[] {
  return objects
    .filter((object) => object.kind === "Deployment")
    .map((object) => {
      const template = (object.spec as { template: { spec: { terminationGracePeriodSeconds: number; containers: Container[] } } }).template;
      return { name: object.metadata.name, spec: template.spec };
    });
}

/** One instruction of a Dockerfile: its keyword and the rest of its (joined) line. */
export interface DockerInstruction {
  keyword: string;
  args: string;
}

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
export function loadDockerfile(): DockerInstruction[] {
  const text = readFileSync(join(DEPLOY, "docker", "Dockerfile"), "utf8");
  const instructions: DockerInstruction[] = [];
  let pending = "";
  for (const line of text.split("\n")) {
    if (pending === "" && (line.trim().startsWith("#") || line.trim() === "")) continue;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = "";
    const space = full.indexOf(" ");
    instructions.push({ keyword: full.slice(0, space).toUpperCase(), args: full.slice(space + 1).trim() });
  }
  return instructions;
}

/** `KEY=value KEY2="value 2"` of an ENV instruction. */
export function dockerEnv(args: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const match of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) {
    env[match[1]!] = match[2]!.replace(/^"(.*)"$/, "$1");
  }
  return env;
}

/** The `.dockerignore` entries: one path a line, comments and blank lines dropped. */
export function dockerIgnore(): string[] {
  return readFileSync(join(ROOT, ".dockerignore"), "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}
