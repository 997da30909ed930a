/**
 * What the server keeps of a worker's `TaskFailure`: its stack cut to 16 KiB (the top kept, the
 * cut marked), its details (a `google.protobuf.Struct`) as JSON, dropped with a note in the
 * message when larger than 16 KiB, and no text PostgreSQL's `jsonb` refuses (U+0000, lone
 * surrogates). Whatever a worker sends, its failure is recorded: a report that could not be
 * stored would be resent by the worker on every stream. Bounds: `src/core/error-bounds.ts`.
 */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { TaskFailure } from "../../../gen/taskwire/v1/worker_service_pb.js";
import { cutStack, detailsDroppedNote, oversizeDetails, withNote } from "../../core/error-bounds.js";
import type { AttemptError } from "../../core/task-types.js";
import { errorKindFromProto } from "../convert.js";
import { storableJson, storableText as storable } from "../../core/storable-text.js";

/** The error recorded for attempt `attempt` of a worker that reported `failure` (absent: a bare failure). */
export function attemptErrorOf(failure: TaskFailure | undefined, attempt: number, workerId: string, now = new Date()): AttemptError {
  const error: AttemptError = {
    attempt,
    kind: failure ? errorKindFromProto(failure.kind) : "TASK_ERROR",
    name: storable(failure?.name || "Error"),
    message: storable(failure?.message || "the worker reported a failure without a message"),
    retryable: failure?.retryable ?? true,
    workerId,
    time: now.toISOString(),
  };
  if (failure?.stack) error.stack = cutStack(storable(failure.stack));
  if (failure?.details !== undefined) {
    // A Struct's JSON; a NaN or infinite number_value becomes null, as JSON has no such numbers.
    const json = JSON.stringify(failure.details);
    const oversize = oversizeDetails(json);
    if (oversize !== undefined) error.message = withNote(error.message, detailsDroppedNote(oversize));
    else error.details = storableJson(JSON.parse(json) as JsonValue) as JsonObject;
  }
  return error;
}
