/**
 * `taskwire tasks tree <id>`: the dependency graph around a task — its parents (up to the
 * roots), then the task and its descendants as a tree, each with its type and state. A task
 * reached twice (a diamond's join) is printed in full once and named again as "(see above)".
 * Bounded: at most {@link MAX_NODES} tasks are read. Keep in line with the README's
 * "Workflows: dependencies".
 */
import type { Command } from "commander";
import type { TaskwireClient } from "../../client/client.js";
import { taskStateName, type Task } from "../../client/index.js";
import type { CliContext } from "../context.js";
import { jsonLine } from "../format.js";

/** Most tasks one tree reads (and prints). */
export const MAX_NODES = 1000;

interface TreeFlags {
  json?: boolean;
}

/** A task's line: id, type, state, and the error of a failed or cancelled one. */
function line(task: Task): string {
  const error = task.error && task.error.message !== "" ? `  ${task.error.message}` : "";
  return `${task.id}  ${task.type}  ${taskStateName(task.state)}${error}`;
}

/** The graph read from the server: tasks by id, children by parent id (oldest first), and whether it was cut. */
export interface TaskGraph {
  tasks: Map<string, Task>;
  children: Map<string, string[]>;
  truncated: boolean;
}

async function readGraph(client: TaskwireClient, rootId: string, signal: AbortSignal): Promise<TaskGraph> {
  const graph: TaskGraph = { tasks: new Map(), children: new Map(), truncated: false };
  const root = await client.getStatus(rootId, { signal });
  graph.tasks.set(root.id, root);
  // Ancestors, breadth first.
  const up = [...root.parentIds];
  while (up.length > 0 && graph.tasks.size < MAX_NODES) {
    const id = up.shift() as string;
    if (graph.tasks.has(id)) continue;
    const task = await client.getStatus(id, { signal }).catch(() => undefined);
    if (!task) continue;
    graph.tasks.set(id, task);
    up.push(...task.parentIds);
  }
  // Descendants, breadth first, each task's children by ListTasks(parent_id).
  const down = [root.id];
  const seen = new Set<string>();
  while (down.length > 0) {
    const id = down.shift() as string;
    if (seen.has(id)) continue;
    seen.add(id);
    const parent = graph.tasks.get(id);
    if (!parent || parent.childrenCount === 0) continue;
    const kids: string[] = [];
    let pageToken = "";
    do {
      const page = await client.listTasks({ parentId: id, pageSize: 1000, pageToken }, { signal });
      for (const task of page.tasks) {
        if (graph.tasks.size >= MAX_NODES && !graph.tasks.has(task.id)) {
          graph.truncated = true;
          break;
        }
        graph.tasks.set(task.id, task);
        kids.push(task.id);
      }
      pageToken = graph.truncated ? "" : page.nextPageToken;
    } while (pageToken !== "");
    // Oldest first: submission order.
    graph.children.set(id, kids.reverse());
    down.push(...kids);
  }
  return graph;
}

/** The printed tree: parents of the root (ancestors first), then the root's subtree. */
export function formatTree(graph: TaskGraph, rootId: string): string {
  const out: string[] = [];
  const root = graph.tasks.get(rootId);
  if (!root) return "";
  if (root.parentIds.length > 0) {
    const ancestors = [...graph.tasks.values()].filter((task) => isAncestor(graph, task.id, rootId));
    out.push("parents:");
    for (const task of ancestors.sort((a, b) => (a.id < b.id ? -1 : 1))) out.push(`  ${line(task)}`);
  }
  const printed = new Set<string>();
  const walk = (id: string, prefix: string, last: boolean, top: boolean): void => {
    const task = graph.tasks.get(id);
    if (!task) return;
    const branch = top ? "" : last ? "└─ " : "├─ ";
    if (printed.has(id)) {
      out.push(`${prefix}${branch}${task.id}  (see above)`);
      return;
    }
    printed.add(id);
    out.push(`${prefix}${branch}${line(task)}`);
    const kids = graph.children.get(id) ?? [];
    const inner = top ? "" : `${prefix}${last ? "   " : "│  "}`;
    kids.forEach((kid, i) => walk(kid, inner, i === kids.length - 1, false));
  };
  walk(rootId, "", true, true);
  if (graph.truncated) out.push(`(cut at ${MAX_NODES} tasks)`);
  return `${out.join("\n")}\n`;
}

function isAncestor(graph: TaskGraph, candidate: string, of: string): boolean {
  const stack = [...(graph.tasks.get(of)?.parentIds ?? [])];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const id = stack.pop() as string;
    if (id === candidate) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(graph.tasks.get(id)?.parentIds ?? []));
  }
  return false;
}

/** Adds `tasks tree` to the `tasks` command. */
export function registerTasksTree(tasks: Command, ctx: CliContext): void {
  tasks
    .command("tree")
    .description("print the dependency graph around a task: its parents, then its descendants, with their states")
    .argument("<id>", "the task's id")
    .option("--json", "print the tasks of the graph as JSON: id, type, state, parents and children count of each")
    .action(async (id: string, flags: TreeFlags, command: Command) => {
      const graph = await readGraph(ctx.client(command), id, ctx.signal);
      if (flags.json) {
        const nodes = [...graph.tasks.values()].map((task) => ({
          id: task.id,
          type: task.type,
          state: taskStateName(task.state),
          parentIds: [...task.parentIds],
          childrenCount: task.childrenCount,
        }));
        ctx.stdout.write(jsonLine({ tasks: nodes, truncated: graph.truncated }));
        return;
      }
      const root = [...graph.tasks.keys()].find((key) => key === id.toLowerCase()) ?? id;
      ctx.stdout.write(formatTree(graph, root));
    });
}
