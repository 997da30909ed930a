/**
 * The batches the client's graph shapes build (`src/client/flows.ts`): every dependency an index
 * of an earlier item, so the server can take the graph in one SubmitBatch; unknown names and
 * cycles refused before anything is sent. The server side is in test/e2e/dependencies.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { BatchItem } from "../../src/client/index.js";
import { buildSubmitRequest, chainItems, chordItems, flowItems, graphItems } from "../../src/client/index.js";
import { ParentFailurePolicy } from "../../gen/taskwire/v1/task_pb.js";

const item = (name: string, options: BatchItem["options"] = {}): BatchItem => ({ type: "demo.step", input: { name }, options });
const deps = (items: readonly BatchItem[]) => items.map((i) => i.options?.dependsOnItems ?? []);
const names = (items: readonly BatchItem[]) => items.map((i) => (i.input as { name: string }).name);

describe("graph shapes", () => {
  it("chains each item after the one before it", () => {
    expect(deps(chainItems([item("a"), item("b"), item("c")]))).toEqual([[], [0], [1]]);
  });

  it("runs a chord's callback after every item of its group", () => {
    expect(deps(chordItems([item("a"), item("b")], item("join")))).toEqual([[], [], [0, 1]]);
  });

  it("orders a flow's children before their parent (BullMQ's flows)", () => {
    const { items, tree } = flowItems({ ...item("root"), children: [{ ...item("x"), children: [item("x1")] }, item("y")] });
    expect(names(items)).toEqual(["x1", "x", "y", "root"]);
    expect(deps(items)).toEqual([[], [0], [], [1, 2]]);
    const handles = items.map((_, i) => ({ id: `h${i}` })) as never[];
    const shaped = tree(handles);
    expect((shaped.task as unknown as { id: string }).id).toBe("h3");
    expect(shaped.children.map((child) => (child.task as unknown as { id: string }).id)).toEqual(["h1", "h2"]);
  });

  it("sorts a graph so that every node follows those it runs after, keeping the given order where free", () => {
    const { names: order, items } = graphItems({
      d: { ...item("d"), after: ["b", "c"] },
      a: item("a"),
      b: { ...item("b"), after: ["a"] },
      c: { ...item("c"), after: ["a", "a"] },
    });
    expect(order).toEqual(["a", "b", "c", "d"]);
    expect(deps(items)).toEqual([[], [0], [0], [1, 2]]);
  });

  it("keeps the stored parents an item names, and adds the batch's", () => {
    const { items } = graphItems({ a: item("a"), b: { ...item("b", { dependsOn: ["0190f0c1-0000-7000-8000-000000000000"], dependsOnItems: [] }), after: ["a"] } });
    expect(items[1]?.options).toMatchObject({ dependsOn: ["0190f0c1-0000-7000-8000-000000000000"], dependsOnItems: [0] });
  });

  it("refuses an unknown node and a cycle", () => {
    expect(() => graphItems({ a: { ...item("a"), after: ["nope"] } })).toThrow(/"a" runs after "nope", which is not a node/);
    expect(() => graphItems({ a: { ...item("a"), after: ["b"] }, b: { ...item("b"), after: ["a"] }, c: item("c") })).toThrow(/cycle among the nodes "a", "b"/);
    expect(() => graphItems({ a: { ...item("a"), after: ["a"] } })).toThrow(/cycle/);
  });
});

describe("submit options", () => {
  it("sends parents as ids, batch references and the policy", () => {
    const request = buildSubmitRequest("demo.step", { typeUrl: "type.googleapis.com/google.protobuf.Struct", value: new Uint8Array(), $typeName: "google.protobuf.Any" }, {
      dependsOn: ["a-id", { id: "b-id" }],
      dependsOnItems: [0],
      onParentFailure: "run",
    });
    expect(request.dependsOn).toEqual(["a-id", "b-id"]);
    expect(request.dependsOnItems).toEqual([0]);
    expect(request.onParentFailure).toBe(ParentFailurePolicy.RUN);
  });

  it("refuses an unknown policy", () => {
    expect(() => buildSubmitRequest("demo.step", { typeUrl: "", value: new Uint8Array(), $typeName: "google.protobuf.Any" }, { onParentFailure: "maybe" as never })).toThrow(/"cancel" or "run"/);
  });
});
