/**
 * The parents an Assignment carries (`Assignment.parents`): for each started task that depends
 * on others, its parents in the order it named them, with their outputs. Read in one query for
 * the whole claim, and only when a started task has parents, so tasks without parents cost
 * nothing. Bounded: at most `--max-parents` parents per task, and their outputs inline up to
 * {@link PARENT_OUTPUTS_MAX_BYTES} per task (in order; from the first that does not fit, outputs
 * are left out with `output_omitted`, to be read with GetStatus). Keep in line with the README's
 * "Workflows: dependencies" and `AssignedParent` in the proto.
 */
import { create } from "@bufbuild/protobuf";
import { AssignedParentSchema, type AssignedParent } from "../../../gen/taskwire/v1/worker_service_pb.js";
import type { TaskRecord } from "../../core/task-types.js";
import type { TaskStore } from "../../store/store.js";
import { stateToProto } from "../convert.js";

/** Most bytes of parent outputs one Assignment carries inline. */
export const PARENT_OUTPUTS_MAX_BYTES = 4 * 1024 * 1024;

/** The parents of the started tasks that have some, by task id; an empty map when none has. */
export async function assignedParents(store: TaskStore, started: readonly TaskRecord[]): Promise<Map<string, AssignedParent[]>> {
  const byTask = new Map<string, AssignedParent[]>();
  const dependent = started.filter((task) => task.parentIds.length > 0);
  if (dependent.length === 0) return byTask;
  const ids = [...new Set(dependent.flatMap((task) => task.parentIds))];
  const parents = await store.getParents(ids, PARENT_OUTPUTS_MAX_BYTES);
  for (const task of dependent) {
    let budget = PARENT_OUTPUTS_MAX_BYTES;
    const list: AssignedParent[] = [];
    for (const id of task.parentIds) {
      const parent = parents.get(id);
      // A parent deleted since (retention) is named without its state or output.
      if (!parent) {
        list.push(create(AssignedParentSchema, { taskId: id }));
        continue;
      }
      const fits = parent.output !== null && parent.outputTypeUrl !== null && parent.outputBytes <= budget;
      if (fits) budget -= parent.outputBytes;
      else budget = -1; // in order: nothing after the first omitted output is inlined
      list.push(
        create(AssignedParentSchema, {
          taskId: parent.id,
          type: parent.type,
          state: stateToProto(parent.state),
          output: fits ? { typeUrl: parent.outputTypeUrl ?? "", value: parent.output ?? new Uint8Array() } : undefined,
          outputOmitted: parent.state === "SUCCEEDED" && !fits,
        }),
      );
    }
    byTask.set(task.id, list);
  }
  return byTask;
}
