/**
 * A worker's Hello, validated: the bounds (types per Hello, descriptor bytes) first, then the
 * cheap checks of every field, then the descriptor set resolved once for all the declared types.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { Hello } from "../../../gen/taskwire/v1/worker_service_pb.js";
import { InvalidArgumentError, ResourceExhaustedError } from "../../core/errors.js";
import { QUEUE_NAME, TYPE_NAME, MAX_ATTEMPTS_LIMIT, PRIORITY_MAX, PRIORITY_MIN } from "../../core/limits.js";
import type { TaskTypeRecord } from "../../core/task-types.js";
import { readDescriptorSet, resolveDescriptors } from "../engine/catalog.js";
import { limitValuesFromProto } from "./limits-convert.js";
import { validDurationMs, validRetentionMs } from "./submission.js";
import { DEFAULT_WORKER_LIMITS, settingName, type WorkerLimits } from "./worker-reports.js";

/** Most slots a worker may declare. */
const MAX_SLOTS = 10_000;
/** Default back-off of a declared type that gives none. */
const DEFAULT_BACKOFF = { initialMs: 1000, maxMs: 300_000, multiplier: 2, jitter: 0.2 };

/**
 * Validates a Hello and turns its declarations into catalog records. Bounded before any other
 * work: at most `limits.maxHelloTypes` types and `limits.maxDescriptorBytes` of descriptors
 * (`RESOURCE_EXHAUSTED`, naming the setting); the cheap checks of every field come next, and the
 * descriptor set is resolved last, once for all the types.
 */
export function parseHello(hello: Hello, limits: WorkerLimits = DEFAULT_WORKER_LIMITS): Omit<TaskTypeRecord, "updatedAt">[] {
  const bad = (field: string, description: string) => InvalidArgumentError.field(`hello.${field}`, description);
  if (!/^[A-Za-z0-9_.:@-]{1,200}$/.test(hello.workerId)) throw bad("worker_id", "must be 1 to 200 of letters, digits and _ . : @ -");
  if (hello.queues.length === 0) throw bad("queues", "must name at least one queue");
  hello.queues.forEach((q, i) => {
    if (!QUEUE_NAME.test(q)) throw bad(`queues[${i}]`, `"${q}" is not a valid queue name`);
  });
  if (new Set(hello.queues).size !== hello.queues.length) throw bad("queues", "must not repeat a queue");
  if (!Number.isInteger(hello.slots) || hello.slots < 1 || hello.slots > MAX_SLOTS) {
    throw bad("slots", `must be from 1 to ${MAX_SLOTS}, got ${hello.slots}`);
  }
  if (hello.types.length === 0) throw bad("types", "must declare at least one task type");
  if (hello.types.length > limits.maxHelloTypes) {
    throw new ResourceExhaustedError(
      "TOO_MANY_TASK_TYPES",
      `hello.types: ${hello.types.length} task types, over the ${limits.maxHelloTypes} one Hello may declare (${settingName("maxHelloTypes")}); serve them from several workers`,
    );
  }
  const seen = new Set<string>();
  const declared = hello.types.map((t, i) => {
    const field = `types[${i}]`;
    if (!TYPE_NAME.test(t.name)) throw bad(`${field}.name`, `"${t.name}" is not a valid task type name`);
    if (seen.has(t.name)) throw bad(`${field}.name`, `"${t.name}" is declared twice`);
    seen.add(t.name);
    const d = t.defaults;
    const priority = d?.priority ?? 0;
    if (priority < PRIORITY_MIN || priority > PRIORITY_MAX) throw bad(`${field}.defaults.priority`, `must be from ${PRIORITY_MIN} to ${PRIORITY_MAX}`);
    if (d?.queue && !QUEUE_NAME.test(d.queue)) throw bad(`${field}.defaults.queue`, `"${d.queue}" is not a valid queue name`);
    const maxAttempts = d?.maxAttempts || 3;
    if (maxAttempts < 1 || maxAttempts > MAX_ATTEMPTS_LIMIT) throw bad(`${field}.defaults.max_attempts`, `must be from 1 to ${MAX_ATTEMPTS_LIMIT}`);
    const b = d?.backoff;
    const backoff = {
      initialMs: b?.initial ? validDurationMs(b.initial, `hello.${field}.defaults.backoff.initial`) : DEFAULT_BACKOFF.initialMs,
      maxMs: b?.max ? validDurationMs(b.max, `hello.${field}.defaults.backoff.max`) : DEFAULT_BACKOFF.maxMs,
      multiplier: b?.multiplier || DEFAULT_BACKOFF.multiplier,
      jitter: b?.jitter ?? DEFAULT_BACKOFF.jitter,
    };
    if (!(backoff.multiplier >= 1 && backoff.multiplier <= 100)) throw bad(`${field}.defaults.backoff.multiplier`, "must be from 1 to 100");
    if (!(backoff.jitter >= 0 && backoff.jitter <= 1)) throw bad(`${field}.defaults.backoff.jitter`, "must be from 0 to 1");
    return {
      name: t.name,
      inputType: t.inputType,
      outputType: t.outputType,
      description: t.description,
      defaults: {
        queue: d?.queue || null,
        priority,
        timeoutMs: d?.timeout ? validDurationMs(d.timeout, `hello.${field}.defaults.timeout`, true) : null,
        maxAttempts,
        backoff,
        retentionMs: d?.retention ? validRetentionMs(d.retention, `hello.${field}.defaults.retention`) : null,
        limits: d?.limits ? limitValuesFromProto(d.limits, `hello.${field}.defaults.limits`) : null,
      },
    };
  });
  // One set per Hello, sized first (the encoding is linear and cheap), then resolved once:
  // every declared type refers to it.
  const descriptors = hello.descriptors ?? create(FileDescriptorSetSchema);
  const size = toBinary(FileDescriptorSetSchema, descriptors).byteLength;
  if (size > limits.maxDescriptorBytes) {
    throw new ResourceExhaustedError(
      "DESCRIPTORS_TOO_LARGE",
      `hello.descriptors: ${size} bytes, over the ${limits.maxDescriptorBytes} one Hello may carry (${settingName("maxDescriptorBytes")}); send only the files the declared messages need`,
    );
  }
  const set = readDescriptorSet(descriptors, declared.flatMap((t) => [t.inputType, t.outputType]));
  return declared.map((t) => {
    const record = { ...t, descriptors: set.bytes, descriptorSet: set.hash };
    resolveDescriptors(record);
    return record;
  });
}
