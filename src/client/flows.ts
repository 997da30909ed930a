/**
 * Task graphs in one atomic `SubmitBatch`: the shapes users of Celery's canvas (`chain`, `group`,
 * `chord`) and BullMQ's flows (`flow`: a parent runs after its children) know, and `graph` for
 * any directed acyclic graph by node names. Each builds batch items whose `dependsOnItems` name
 * earlier items, so the server stores the whole graph or none of it, and no cycle can reach it.
 * Keep in line with the README's "Workflows: dependencies".
 */
import type { DescMessage } from "@bufbuild/protobuf";
import type { BatchItem } from "./client.js";
import type { TaskHandle } from "./task-handle.js";

/** A node of {@link graphItems}: a batch item, and the names of the nodes it runs after. */
export interface GraphNode<O extends DescMessage = DescMessage> extends BatchItem<O> {
  /** Names of nodes of the same graph this one depends on. @default none: it runs at once */
  readonly after?: readonly string[];
}

/** The handles of a graph, by node name, each typed by its node. */
export type GraphHandles<T extends Record<string, GraphNode>> = {
  -readonly [K in keyof T]: T[K] extends GraphNode<infer O> ? TaskHandle<O> : TaskHandle;
};

/** A node of {@link flowItems} (BullMQ's flows): it runs after all its children succeeded. */
export interface FlowNode<O extends DescMessage = DescMessage> extends BatchItem<O> {
  readonly children?: readonly FlowNode[];
}

/** The handles of a flow, in its shape. */
export interface FlowHandle<O extends DescMessage = DescMessage> {
  readonly task: TaskHandle<O>;
  readonly children: readonly FlowHandle[];
}

/** `item` with `dependsOnItems` added to those it has. */
function dependingOn(item: BatchItem, indexes: readonly number[]): BatchItem {
  if (indexes.length === 0) return item;
  const options = item.options ?? {};
  return { ...item, options: { ...options, dependsOnItems: [...(options.dependsOnItems ?? []), ...indexes] } };
}

/**
 * The batch of a graph: its nodes in an order where every node comes after those it names in
 * `after` (in the order given where free), each depending on them by index.
 * @throws RangeError when a node names an unknown node, or the nodes form a cycle.
 */
export function graphItems(nodes: Readonly<Record<string, GraphNode>>): { names: string[]; items: BatchItem[] } {
  const names = Object.keys(nodes);
  for (const name of names) {
    for (const before of nodes[name]?.after ?? []) {
      if (!Object.hasOwn(nodes, before)) throw new RangeError(`graph node "${name}" runs after "${before}", which is not a node of the graph`);
    }
  }
  const index = new Map<string, number>();
  const items: BatchItem[] = [];
  const order: string[] = [];
  while (order.length < names.length) {
    const ready = names.find((name) => !index.has(name) && (nodes[name]?.after ?? []).every((before) => index.has(before)));
    if (ready === undefined) {
      const stuck = names.filter((name) => !index.has(name));
      throw new RangeError(`the graph has a cycle among the nodes ${stuck.map((name) => `"${name}"`).join(", ")}`);
    }
    const node = nodes[ready] as GraphNode;
    const { after, ...item } = node;
    index.set(ready, items.length);
    items.push(dependingOn(item, [...new Set(after ?? [])].map((before) => index.get(before) as number)));
    order.push(ready);
  }
  return { names: order, items };
}

/** The batch of a chain: each item depends on the one before it. */
export function chainItems(items: readonly BatchItem[]): BatchItem[] {
  return items.map((item, i) => dependingOn(item, i === 0 ? [] : [i - 1]));
}

/** The batch of a chord: the group's items, then the callback depending on all of them. */
export function chordItems(group: readonly BatchItem[], callback: BatchItem): BatchItem[] {
  return [...group, dependingOn(callback, group.map((_, i) => i))];
}

/**
 * The batch of a flow, children before their parent (post-order), and how to rebuild the tree
 * of handles from the batch's handles.
 */
export function flowItems(root: FlowNode): { items: BatchItem[]; tree: (handles: readonly TaskHandle[]) => FlowHandle } {
  const items: BatchItem[] = [];
  interface Placed {
    index: number;
    children: Placed[];
  }
  const place = (node: FlowNode, depth: number): Placed => {
    if (depth > 1000) throw new RangeError("a flow may be at most 1000 levels deep");
    const { children = [], ...item } = node;
    const placed = children.map((child) => place(child, depth + 1));
    items.push(dependingOn(item, placed.map((child) => child.index)));
    return { index: items.length - 1, children: placed };
  };
  const top = place(root, 0);
  const tree = (handles: readonly TaskHandle[]): FlowHandle => {
    const build = (placed: Placed): FlowHandle => ({ task: handles[placed.index] as TaskHandle, children: placed.children.map(build) });
    return build(top);
  };
  return { items, tree };
}
