/**
 * An attempt's environment across the process boundary. Its plain values (ids, attempt numbers,
 * the deadline, the saved `context`, bounds) cross as they are; its functions (`onProgress`,
 * `onLog`, `onContext`, …) cross as names the pool process calls back; and values with methods
 * cross as the data they are built from and are rebuilt on the other side: `parents`
 * (`ctx.parents`) as the Assignment's parents, decoded again with the pool process's own task
 * definitions. A new field of `AttemptEnvironment` that is neither plain data nor a function needs
 * a line here; until it has one, sending it fails the attempt with a message naming it.
 */
import { create } from "@bufbuild/protobuf";
import { TaskState } from "../../../gen/taskwire/v1/task_pb.js";
import { AssignedParentSchema, type AssignedParent } from "../../../gen/taskwire/v1/worker_service_pb.js";
import type { TaskDefinition } from "../../common/task-definition.js";
import type { AttemptEnvironment } from "../task-runner.js";
import { taskParents, type ParentState, type TaskParents } from "../task-parents.js";

/** The environment as it crosses: values, and the names of its functions. */
export interface EnvironmentTransfer {
  data: Record<string, unknown>;
  calls: string[];
}

/** Fields that never cross: the pool process has its own signal and logger. */
const LOCAL = new Set(["signal", "logger"]);

const PARENT_STATES: Record<ParentState, TaskState> = {
  SUCCEEDED: TaskState.SUCCEEDED,
  FAILED: TaskState.FAILED,
  CANCELLED: TaskState.CANCELLED,
  UNKNOWN: TaskState.UNSPECIFIED,
};

/** Splits `env` into what crosses (see the file header). */
export function environmentTransfer(env: AttemptEnvironment): EnvironmentTransfer {
  const data: Record<string, unknown> = {};
  const calls: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (LOCAL.has(name) || value === undefined) continue;
    if (typeof value === "function") calls.push(name);
    else if (name === "parents") data[name] = assignedParents(value as TaskParents);
    else data[name] = value;
  }
  return { data, calls };
}

/** The values of an environment in the pool process, with `parents` rebuilt. */
export function receivedEnvironment(data: Record<string, unknown>, definitions: ReadonlyMap<string, TaskDefinition>): Record<string, unknown> {
  const env: Record<string, unknown> = { ...data };
  if (Array.isArray(data["parents"])) env["parents"] = taskParents(data["parents"] as AssignedParent[], definitions);
  return env;
}

function assignedParents(parents: TaskParents): AssignedParent[] {
  return [...parents].map((parent) =>
    create(AssignedParentSchema, {
      taskId: parent.taskId,
      type: parent.type,
      state: PARENT_STATES[parent.state],
      output: parent.rawOutput,
      outputOmitted: parent.outputOmitted,
    }),
  );
}
