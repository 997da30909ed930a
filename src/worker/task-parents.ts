/**
 * `ctx.parents`: the parents of a running task (`depends_on`), as its Assignment names them, in
 * the order the task named them, with their outputs. `outputOf(definition)` decodes the output
 * of the parent of that type with the definition's output schema, typed; each entry's `output`
 * is decoded when the worker serves the parent's type (its definition is known here), and its
 * `rawOutput` is the `google.protobuf.Any` as sent. Keep in line with the README's "Workflows:
 * dependencies".
 */
import type { DescMessage } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import { TaskState } from "../../gen/taskwire/v1/task_pb.js";
import type { AssignedParent } from "../../gen/taskwire/v1/worker_service_pb.js";
import { unpackValue } from "../common/any.js";
import type { TaskDefinition, TaskSpec, TaskValue } from "../common/task-definition.js";

/** How a parent ended: SUCCEEDED, or FAILED / CANCELLED for a task whose policy is RUN. */
export type ParentState = "SUCCEEDED" | "FAILED" | "CANCELLED" | "UNKNOWN";

/** One parent of the running task. */
export interface TaskParent {
  readonly taskId: string;
  /** Its task type; empty when the parent was deleted before this attempt started. */
  readonly type: string;
  readonly state: ParentState;
  /**
   * Its output, decoded, when it SUCCEEDED and this worker serves its type (for a typed value,
   * use {@link TaskParents.outputOf}); undefined otherwise.
   */
  readonly output: unknown;
  /** Its output as sent, when it SUCCEEDED and the output fit the Assignment (4 MiB for all parents). */
  readonly rawOutput: Any | undefined;
  /** It SUCCEEDED but its output was left out for size: read it with `client.getStatus(taskId)`. */
  readonly outputOmitted: boolean;
}

/** The parents of the running task, in the order it named them. */
export interface TaskParents extends ReadonlyArray<TaskParent> {
  /**
   * The output of the (first) parent of `task`'s type, decoded and typed by its output schema;
   * undefined when no parent of that type succeeded. Throws when the output was left out for size
   * or is not of the definition's output type.
   */
  outputOf<O extends DescMessage>(task: TaskDefinition<DescMessage, O> | TaskSpec<DescMessage, O>): TaskValue<O> | undefined;
  /** The outputs of every parent of `task`'s type that succeeded, in order (fan-in of one type). */
  outputsOf<O extends DescMessage>(task: TaskDefinition<DescMessage, O> | TaskSpec<DescMessage, O>): TaskValue<O>[];
  /** The parent with this id. */
  get(taskId: string): TaskParent | undefined;
}

const STATES: Partial<Record<TaskState, ParentState>> = {
  [TaskState.SUCCEEDED]: "SUCCEEDED",
  [TaskState.FAILED]: "FAILED",
  [TaskState.CANCELLED]: "CANCELLED",
};

function specOf<O extends DescMessage>(task: TaskDefinition<DescMessage, O> | TaskSpec<DescMessage, O>): TaskSpec<DescMessage, O> {
  return "spec" in task ? task.spec : task;
}

/**
 * Builds `ctx.parents` from an Assignment's parents; `definitions` are the task definitions the
 * worker serves (by type name), used to decode `output`.
 */
export function taskParents(assigned: readonly AssignedParent[], definitions: ReadonlyMap<string, TaskDefinition>): TaskParents {
  const list = assigned.map((parent): TaskParent => {
    const state = STATES[parent.state] ?? "UNKNOWN";
    const raw = parent.output;
    let decoded: { value: unknown } | undefined;
    return {
      taskId: parent.taskId,
      type: parent.type,
      state,
      rawOutput: raw,
      outputOmitted: parent.outputOmitted,
      get output(): unknown {
        if (decoded === undefined) {
          const definition = definitions.get(parent.type);
          let value: unknown;
          try {
            value = raw && definition ? unpackValue(definition.spec.output, raw) : undefined;
          } catch {
            value = undefined;
          }
          decoded = { value };
        }
        return decoded.value;
      },
    };
  });
  const outputsOf = <O extends DescMessage>(task: TaskDefinition<DescMessage, O> | TaskSpec<DescMessage, O>): TaskValue<O>[] => {
    const spec = specOf(task);
    const values: TaskValue<O>[] = [];
    for (const parent of list) {
      if (parent.type !== spec.name || parent.state !== "SUCCEEDED") continue;
      if (parent.outputOmitted || parent.rawOutput === undefined) {
        throw new Error(`the output of parent task ${parent.taskId} (${spec.name}) was left out of the assignment for size; read it with client.getStatus("${parent.taskId}")`);
      }
      values.push(unpackValue(spec.output, parent.rawOutput));
    }
    return values;
  };
  return Object.assign(list, {
    outputOf: <O extends DescMessage>(task: TaskDefinition<DescMessage, O> | TaskSpec<DescMessage, O>) => outputsOf(task)[0],
    outputsOf,
    get: (taskId: string) => list.find((parent) => parent.taskId === taskId.toLowerCase()),
  });
}
