/**
 * Task definitions for worker tests, on well-known types only (no extra .proto): JSON tasks on
 * `google.protobuf.Struct` and a typed one on `Int64Value` → `StringValue`. `gated` tasks wait
 * until the test opens their gate, so the test decides when each attempt ends.
 */
import { create, type JsonObject } from "@bufbuild/protobuf";
import { AnySchema, Int64ValueSchema, StringValueSchema, StructSchema, type Any } from "@bufbuild/protobuf/wkt";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { AssignmentSchema } from "../../gen/taskwire/v1/worker_service_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { packValue, typeUrlOf } from "../../src/common/any.js";
import { defineTask, DetailedError, NonRetryableError, type TaskContext } from "../../src/worker/index.js";
import { deferred } from "./scripted-peer.js";

/** Opens attempts of `gated` tasks by id, and tells when they start. */
export class Gates {
  readonly #gates = new Map<string, ReturnType<typeof deferred<JsonObject>>>();
  readonly #started = new Map<string, ReturnType<typeof deferred<TaskContext>>>();
  /** Attempts running now, and the most ever seen at once. */
  running = 0;
  maxRunning = 0;

  #gate(id: string): ReturnType<typeof deferred<JsonObject>> {
    let gate = this.#gates.get(id);
    if (!gate) this.#gates.set(id, (gate = deferred<JsonObject>()));
    return gate;
  }

  #start(id: string): ReturnType<typeof deferred<TaskContext>> {
    let started = this.#started.get(id);
    if (!started) this.#started.set(id, (started = deferred<TaskContext>()));
    return started;
  }

  /** Lets the attempt `id` return `output`. */
  open(id: string, output: JsonObject = { done: id }): void {
    this.#gate(id).resolve(output);
  }

  /** Resolves with the attempt's context once `id` has started. */
  started(id: string): Promise<TaskContext> {
    return this.#start(id).promise;
  }

  /** What a gated handler does: wait for its gate, or reject with the signal's reason. */
  async wait(id: string, ctx: TaskContext, options: { ignoreAbort?: boolean } = {}): Promise<JsonObject> {
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    this.#start(id).resolve(ctx);
    try {
      const gate = this.#gate(id).promise;
      if (options.ignoreAbort) return await gate;
      return await Promise.race([
        gate,
        new Promise<never>((_, reject) => {
          if (ctx.signal.aborted) reject(ctx.signal.reason);
          ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true });
        }),
      ]);
    } finally {
      this.running--;
    }
  }
}

/** The tasks of one test, sharing its gates. */
export function testTasks(gates: Gates) {
  const gated = defineTask(
    { name: "test.gated", input: StructSchema, output: StructSchema, queue: "gated", timeout: "30s", retries: 4, retention: "30d" },
    async (input, ctx) => gates.wait(String(input["id"]), ctx, { ignoreAbort: input["ignoreAbort"] === true }),
  );
  const square = defineTask(
    { name: "test.square", input: Int64ValueSchema, output: StringValueSchema, description: "n² as text" },
    async (input) => ({ value: (input.value * input.value).toString() }),
  );
  const fail = defineTask({ name: "test.fail", input: StructSchema, output: StructSchema }, async (input) => {
    if (input["mode"] === "nonRetryable") throw new NonRetryableError("bad input, do not retry");
    if (input["mode"] === "retryableFalse") throw Object.assign(new RangeError("flagged"), { retryable: false });
    if (input["mode"] === "detailed") {
      throw new DetailedError("quota exceeded", { details: { limit: 10, used: [7, 3] }, cause: new Error("429 from upstream") });
    }
    if (input["mode"] === "badDetails") throw Object.assign(new Error("odd details"), { details: { count: 1n } });
    throw new TypeError("transient failure");
  });
  const chatty = defineTask({ name: "test.chatty", input: StructSchema, output: StructSchema }, async (input, ctx) => {
    for (let i = 1; i <= 1000; i++) ctx.progress({ percent: i / 10, message: `step ${i}`, current: i, total: 1000 });
    ctx.log.info("halfway there");
    ctx.log.warn("almost done");
    return gates.wait(String(input["id"]), ctx);
  });
  return { gated, square, fail, chatty, all: [gated, square, fail, chatty] };
}

/** An assignment of `input` (an `Any`) to `(taskId, attempt)`. */
export function assignment(
  taskId: string,
  type: string,
  input: Any,
  extra: { attempt?: number; deadline?: Date; maxAttempts?: number } = {},
): MessageInitShape<typeof AssignmentSchema> {
  return {
    taskId,
    attempt: extra.attempt ?? 1,
    type,
    input,
    maxAttempts: extra.maxAttempts ?? 3,
    deadline: extra.deadline ? timestampFromDate(extra.deadline) : undefined,
  };
}

/** A JSON input packed as a Struct. */
export function json(value: JsonObject): Any {
  return packValue(StructSchema, value);
}

/** An `Any` claiming to be a Struct whose bytes do not decode. */
export function garbageStruct(): Any {
  return create(AnySchema, { typeUrl: typeUrlOf(StructSchema.typeName), value: new Uint8Array([0x0a, 0xff, 0xff, 0xff]) });
}
