/**
 * The catalog's refresh is incremental (issue 15): a server reads the listing without
 * descriptor bytes, and only the descriptor sets it has not resolved yet, each once, however
 * many types share one.
 */
import { describe, expect, it } from "vitest";
import { createMutableRegistry, type DescMessage } from "@bufbuild/protobuf";
import { DoubleValueSchema, StructSchema } from "@bufbuild/protobuf/wkt";
import { create } from "@bufbuild/protobuf";
import { ConnectRequestSchema } from "../../gen/taskwire/v1/worker_service_pb.js";
import { descriptorSetOf } from "../../src/common/descriptors.js";
import type { TaskStore } from "../../src/store/store.js";
import { Catalog } from "../../src/server/engine/catalog.js";
import { parseHello } from "../../src/server/rpc/hello.js";
import { cleanupsAfterEach } from "../support/cleanups.js";
import { createTestPgliteStore } from "../support/database.js";

/** `store`, counting the descriptor sets read through it. */
function counting(store: TaskStore): { store: TaskStore; setsRead: string[][] } {
  const setsRead: string[][] = [];
  const wrapped = new Proxy(store, {
    get(target, property, receiver) {
      if (property === "getDescriptorSets") {
        return (hashes: readonly string[]) => {
          setsRead.push([...hashes]);
          return target.getDescriptorSets(hashes);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: wrapped, setsRead };
}

/** The records of a Hello declaring `names` on `schemas`' descriptors (one set for all of them). */
function declared(names: string[], input: DescMessage = StructSchema) {
  const hello = create(ConnectRequestSchema, {
    message: {
      case: "hello",
      value: {
        workerId: "w",
        queues: ["q"],
        slots: 1,
        types: names.map((name) => ({ name, inputType: input.typeName, outputType: StructSchema.typeName })),
        descriptors: descriptorSetOf([input, StructSchema]),
      },
    },
  }).message.value;
  return parseHello(hello as Parameters<typeof parseHello>[0]);
}

describe("catalog refresh", () => {
  const cleanups = cleanupsAfterEach();

  it("reads only the listing when nothing changed, and each new set once", async () => {
    const { store, cleanup } = await createTestPgliteStore();
    cleanups.push(cleanup);
    const here = new Catalog(store, 1024, createMutableRegistry());
    const { store: observed, setsRead } = counting(store);
    const elsewhere = new Catalog(observed, 1024, createMutableRegistry());

    const first = declared(["a.one", "a.two", "a.three"]);
    expect(new Set(first.map((t) => t.descriptorSet)).size).toBe(1);
    await here.declare(first, new Date(1000));
    await elsewhere.loadAll();
    expect(setsRead).toEqual([[first[0]!.descriptorSet]]);
    expect(elsewhere.entries().map((e) => e.record.name).sort()).toEqual(["a.one", "a.three", "a.two"]);
    // The three types share one resolved registry.
    expect(new Set(elsewhere.entries().map((e) => e.registry)).size).toBe(1);

    await elsewhere.loadAll();
    expect(setsRead).toHaveLength(1);

    // A new type on another set: that set alone is read. A redeclaration on a known set: none.
    const second = declared(["b.one"], DoubleValueSchema);
    await here.declare(second, new Date(2000));
    await here.declare(declared(["a.one"]), new Date(3000));
    await elsewhere.loadAll();
    expect(setsRead).toEqual([[first[0]!.descriptorSet], [second[0]!.descriptorSet]]);
    expect(elsewhere.peek("a.one")?.record.updatedAt).toEqual(new Date(3000));
    expect(elsewhere.peek("b.one")?.input.typeName).toBe(DoubleValueSchema.typeName);
    expect(elsewhere.files().filter((f) => f.name === "google/protobuf/struct").length).toBe(2); // one per set
  });
});
