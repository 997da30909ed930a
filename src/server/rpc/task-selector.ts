/**
 * Validation of AdminService selections: a `TaskSelector` (and ids) into a store
 * `TaskSelection`, refusing nonsense with INVALID_ARGUMENT naming the field. Each action says
 * which states it can act on; a selector naming another state is refused rather than silently
 * narrowed, so an operator never believes a bulk action did what it could not.
 */
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { TaskSelector } from "../../../gen/taskwire/v1/admin_service_pb.js";
import { InvalidArgumentError } from "../../core/errors.js";
import { QUEUE_NAME, TYPE_NAME } from "../../core/limits.js";
import { validLabels } from "../../core/labels.js";
import type { TaskStateName } from "../../core/task-states.js";
import type { TaskSelection } from "../../store/store.js";
import { stateFromProto } from "../convert.js";

/** Most ids one bulk request may name. */
export const MAX_BULK_IDS = 10_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A task id, lower-cased; INVALID_ARGUMENT naming `field` otherwise. */
export function validTaskId(id: string, field: string): string {
  if (!UUID.test(id)) throw InvalidArgumentError.field(field, id === "" ? "is required" : `"${id.slice(0, 64)}" is not a task id (a UUID)`);
  return id.toLowerCase();
}

/** A queue name; INVALID_ARGUMENT naming `field` otherwise. */
export function validQueue(name: string, field: string): string {
  if (name === "") throw InvalidArgumentError.field(field, "is required");
  if (!QUEUE_NAME.test(name)) throw InvalidArgumentError.field(field, `"${name.slice(0, 64)}" is not a valid queue name`);
  return name;
}

function date(value: Timestamp | undefined): Date | undefined {
  return value === undefined ? undefined : timestampDate(value);
}

/** What an action accepts. */
export interface SelectionRules {
  /** The states the action can act on; a selector naming others is refused. */
  allowed: readonly TaskStateName[];
  /** Whether finish times may narrow it (not for unfinished tasks). @default true */
  finishTimes?: boolean;
  /** Whether a request naming neither ids nor any selector field is accepted. @default false */
  acceptsEverything?: boolean;
}

/**
 * The store selection of `ids` and `selector`, with `states` the selector's states (all of
 * `allowed` when it names none).
 */
export function parseSelection(
  ids: readonly string[],
  selector: TaskSelector | undefined,
  rules: SelectionRules,
): TaskSelection & { states: readonly TaskStateName[] } {
  if (ids.length > MAX_BULK_IDS) throw InvalidArgumentError.field("ids", `must name at most ${MAX_BULK_IDS} tasks, got ${ids.length}; use a selector for more`);
  const selection: TaskSelection & { states: readonly TaskStateName[] } = { states: rules.allowed };
  if (ids.length > 0) selection.ids = ids.map((id, i) => validTaskId(id, `ids[${i}]`));
  if (selector !== undefined) {
    if (selector.states.length > 0) {
      selection.states = selector.states.map((s, i) => {
        const name = stateFromProto(s);
        if (!name) throw InvalidArgumentError.field(`selector.states[${i}]`, `${s} is not a task state`);
        if (!rules.allowed.includes(name)) {
          throw InvalidArgumentError.field(`selector.states[${i}]`, `${name} is not a state this action takes (it takes ${rules.allowed.join(", ")})`);
        }
        return name;
      });
    }
    if (selector.type !== "") {
      if (!TYPE_NAME.test(selector.type)) throw InvalidArgumentError.field("selector.type", "is not a valid task type name");
      selection.type = selector.type;
    }
    if (selector.queue !== "") selection.queue = validQueue(selector.queue, "selector.queue");
    selection.finishedAfter = date(selector.finishedAfter);
    selection.finishedBefore = date(selector.finishedBefore);
    selection.createdBefore = date(selector.createdBefore);
    if (Object.keys(selector.labels).length > 0) selection.labels = validLabels(selector.labels, "selector.labels");
    if (rules.finishTimes === false && (selection.finishedAfter || selection.finishedBefore)) {
      throw InvalidArgumentError.field(selector.finishedAfter ? "selector.finished_after" : "selector.finished_before", "applies to finished tasks only, and this action takes unfinished ones");
    }
    if (selection.finishedAfter && selection.finishedBefore && selection.finishedAfter >= selection.finishedBefore) {
      throw InvalidArgumentError.field("selector.finished_after", "must be before selector.finished_before");
    }
  }
  const narrowed =
    ids.length > 0 ||
    (selector !== undefined &&
      (selector.states.length > 0 ||
        selector.type !== "" ||
        selector.queue !== "" ||
        selector.finishedAfter ||
        selector.finishedBefore ||
        selector.createdBefore ||
        Object.keys(selector.labels).length > 0));
  if (!narrowed && !rules.acceptsEverything) {
    throw InvalidArgumentError.field(
      "selector",
      `give ids or a selector; to act on every task the action takes, name its states (${rules.allowed.join(", ")})`,
    );
  }
  return selection;
}
