/**
 * Loading the task definitions of `taskwire worker start --tasks <module>`: every exported
 * `TaskDefinition` of the module, and the members of a default export that is an array.
 * TypeScript modules load as they are: the compiled CLI registers tsx's loader before importing
 * the first `.ts`, `.mts` or `.cts` module (the CLI run from its sources already runs under tsx).
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { TaskDefinition } from "../common/task-definition.js";
import { UsageError } from "./context.js";

/** True for what `defineTask` returns: an object with a `spec` (name, input, output) and a `handler`. */
export function isTaskDefinition(value: unknown): value is TaskDefinition {
  if (typeof value !== "object" || value === null) return false;
  const { spec, handler } = value as { spec?: unknown; handler?: unknown };
  if (typeof handler !== "function" || typeof spec !== "object" || spec === null) return false;
  const { name, input, output } = spec as { name?: unknown; input?: unknown; output?: unknown };
  return typeof name === "string" && isSchema(input) && isSchema(output);
}

function isSchema(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "message";
}

/**
 * The task definitions the modules export, in export order, each once.
 * @param modules Module namespaces, as `import()` gives them.
 * @throws UsageError when two different definitions share a name.
 */
export function collectTaskDefinitions(...modules: readonly Readonly<Record<string, unknown>>[]): TaskDefinition[] {
  const candidates: unknown[] = [];
  for (const exports of modules) {
    for (const [name, value] of Object.entries(exports)) {
      if (name === "default" && Array.isArray(value)) candidates.push(...(value as unknown[]));
      else candidates.push(value);
    }
  }
  const byName = new Map<string, TaskDefinition>();
  for (const candidate of candidates) {
    if (!isTaskDefinition(candidate)) continue;
    const seen = byName.get(candidate.spec.name);
    if (seen && seen !== candidate) throw new UsageError(`two task definitions are named "${candidate.spec.name}"`);
    byName.set(candidate.spec.name, candidate);
  }
  return [...byName.values()];
}

const TYPESCRIPT_MODULE = /\.[mc]?tsx?$/;

let loader: Promise<void> | undefined;

/** Registers tsx's ES module loader once, unless this module itself runs from TypeScript (under tsx already). */
function typeScriptLoader(): Promise<void> {
  if (import.meta.url.endsWith(".ts")) return Promise.resolve();
  loader ??= import("tsx/esm/api").then(({ register }) => {
    register();
  });
  return loader;
}

/**
 * Imports each module (paths resolved against `cwd`) and returns their task definitions.
 * @throws UsageError when a module does not exist, or the modules define no task.
 */
export async function loadTaskModules(paths: readonly string[], cwd: string): Promise<TaskDefinition[]> {
  const modules: Record<string, unknown>[] = [];
  for (const path of paths) {
    const file = resolve(cwd, path);
    if (!existsSync(file)) throw new UsageError(`cannot find the task module ${path} (resolved to ${file})`);
    if (TYPESCRIPT_MODULE.test(file)) await typeScriptLoader();
    modules.push((await import(pathToFileURL(file).href)) as Record<string, unknown>);
  }
  const tasks = collectTaskDefinitions(...modules);
  if (tasks.length === 0) {
    throw new UsageError(`${paths.join(", ")} export${paths.length === 1 ? "s" : ""} no task definitions (values made with defineTask)`);
  }
  return tasks;
}
