import { StructSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/cli/context.js";
import { collectTaskDefinitions, isTaskDefinition, loadTaskModules } from "../../src/cli/task-modules.js";
import { defineTask } from "../../src/common/task-definition.js";
import * as examples from "../../examples/tasks.js";

const echo = (name: string) => defineTask({ name, input: StructSchema, output: StructSchema }, async (input) => input);

describe("task modules", () => {
  it("recognise task definitions", () => {
    expect(isTaskDefinition(echo("a"))).toBe(true);
    expect(isTaskDefinition({ spec: { name: "a" }, handler: () => {} })).toBe(false);
    expect(isTaskDefinition(StructSchema)).toBe(false);
    expect(isTaskDefinition(null)).toBe(false);
  });

  it("take every exported definition, and the members of a default array, once each", () => {
    const a = echo("a");
    const b = echo("b");
    const names = collectTaskDefinitions({ a, helper: () => 1, default: [a, b, "x"] }, { again: b }).map((t) => t.name);
    expect(names).toEqual(["a", "b"]);
  });

  it("refuse two definitions with one name", () => {
    expect(() => collectTaskDefinitions({ first: echo("a"), second: echo("a") })).toThrow(UsageError);
  });

  it("load the examples", async () => {
    const tasks = await loadTaskModules(["examples/tasks.ts"], process.cwd());
    expect(tasks.map((task) => task.name).sort()).toEqual(
      ["examples.factorial", "examples.flaky", "examples.long_running", "examples.process_data"],
    );
    expect(collectTaskDefinitions(examples)).toHaveLength(4);
  });
});
