/**
 * `ctx.context`: a task's context, JSON values under dotted keys (`"validation.status"` is
 * `{ validation: { status } }`), kept across retries. The worker SDK starts each attempt from
 * what the task's previous attempts saved (`Assignment.context`) and sends the whole context
 * back with its progress when it changed (`TaskProgress.context`), so a retry can resume from a
 * checkpoint. See the README's "Context of a task".
 */
import { fromJson, toBinary, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { StructSchema } from "@bufbuild/protobuf/wkt";

/** A task's context as task code uses it (`ctx.context`). */
export interface TaskContextValues {
  /**
   * The value at a dotted key (`"validation.status"`), or the whole context without one; a copy,
   * so changing it changes nothing. Undefined when nothing is set there.
   */
  get<T extends JsonValue = JsonValue>(key?: string): T | undefined;
  /**
   * Sets the value at a dotted key, making the objects on the way (a value that is not an object
   * on the way is replaced by one). `undefined` deletes it. Saved with the task's progress,
   * within a fraction of a second.
   * @throws TypeError when the key is not dotted names or the value is not JSON (NaN, a function…)
   * @throws ContextTooLargeError when the context would be larger than the server allows; it is left unchanged
   */
  set(key: string, value: JsonValue | undefined): void;
  /** Deep-merges `values` into the context, or into the object at a dotted key. Throws as {@link set} does. */
  merge(values: JsonObject, key?: string): void;
  /** Deletes the value at a dotted key. @returns whether there was one */
  delete(key: string): boolean;
  /** The whole context (a copy). */
  toJSON(): JsonObject;
}

/** The context would be larger than the server's `--max-context-bytes`. */
export class ContextTooLargeError extends Error {
  override readonly name = "ContextTooLargeError";

  constructor(
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`the task's context would be ${bytes} bytes encoded, over the ${maxBytes} the server allows (--max-context-bytes); it is unchanged`);
  }
}

/** Most characters of a key, and of its dotted names. */
const MAX_KEY_LENGTH = 1024;

function pathOf(key: string): string[] {
  if (typeof key !== "string" || key === "" || key.length > MAX_KEY_LENGTH) {
    throw new TypeError(`a context key must be 1 to ${MAX_KEY_LENGTH} characters of dotted names ("validation.status")`);
  }
  const path = key.split(".");
  if (path.some((name) => name === "")) throw new TypeError(`context key "${key}" has an empty name between its dots`);
  return path;
}

/** A deep copy of `value`, checked to be JSON. */
function jsonCopy(value: unknown, where: string): JsonValue {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`${where} is ${value}; context values are JSON, whose numbers are finite`);
    return value;
  }
  if (Array.isArray(value)) return value.map((item, i) => jsonCopy(item, `${where}[${i}]`));
  if (typeof value === "object" && (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)) {
    const copy: JsonObject = {};
    for (const [name, item] of Object.entries(value)) {
      if (item !== undefined) copy[name] = jsonCopy(item, `${where}.${name}`);
    }
    return copy;
  }
  throw new TypeError(`${where} is ${typeof value === "object" ? "an instance of a class" : `a ${typeof value}`}; context values are JSON (objects, arrays, strings, finite numbers, booleans, null)`);
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function deepMerge(target: JsonObject, values: JsonObject): void {
  for (const [name, value] of Object.entries(values)) {
    const existing = target[name];
    if (isObject(existing) && isObject(value)) deepMerge(existing, value);
    else target[name] = value;
  }
}

/** The encoded size of a context, as the server measures it. */
export function contextBytes(context: JsonObject): number {
  return toBinary(StructSchema, fromJson(StructSchema, context)).byteLength;
}

/**
 * The context of one attempt: starts from what the task's previous attempts saved, checks
 * every change, and calls `onChange` with the whole context after each.
 */
export class ContextValues implements TaskContextValues {
  #values: JsonObject;

  constructor(
    initial: JsonObject | undefined,
    private readonly onChange: (context: JsonObject) => void,
    /** The server's bound (`Welcome.max_context_bytes`); undefined or 0: not checked here. */
    private readonly maxBytes?: number,
  ) {
    this.#values = isObject(initial) ? (jsonCopy(initial, "context") as JsonObject) : {};
  }

  get<T extends JsonValue = JsonValue>(key?: string): T | undefined {
    if (key === undefined) return this.toJSON() as T;
    let value: JsonValue | undefined = this.#values;
    for (const name of pathOf(key)) {
      if (!isObject(value) || !Object.hasOwn(value, name)) return undefined;
      value = value[name];
    }
    return value === undefined ? undefined : (jsonCopy(value, key) as T);
  }

  set(key: string, value: JsonValue | undefined): void {
    const path = pathOf(key);
    if (value === undefined) {
      this.delete(key);
      return;
    }
    const copy = jsonCopy(value, key);
    this.#change((next) => {
      let target = next;
      for (const name of path.slice(0, -1)) {
        const inner = target[name];
        if (!isObject(inner)) target[name] = {};
        target = target[name] as JsonObject;
      }
      target[path.at(-1) as string] = copy;
    });
  }

  merge(values: JsonObject, key?: string): void {
    const copy = jsonCopy(values, key ?? "context");
    if (!isObject(copy)) throw new TypeError("merge takes a JSON object");
    if (key === undefined) {
      this.#change((next) => deepMerge(next, copy));
      return;
    }
    const existing = this.get(key);
    this.set(key, isObject(existing) ? (deepMerge(existing, copy), existing) : copy);
  }

  delete(key: string): boolean {
    const path = pathOf(key);
    let found = false;
    this.#change((next) => {
      let target: JsonValue | undefined = next;
      for (const name of path.slice(0, -1)) target = isObject(target) ? target[name] : undefined;
      const last = path.at(-1) as string;
      if (isObject(target) && Object.hasOwn(target, last)) {
        delete target[last];
        found = true;
      }
    });
    return found;
  }

  toJSON(): JsonObject {
    return jsonCopy(this.#values, "context") as JsonObject;
  }

  /** Applies `edit` to a copy; keeps it (and reports it) when it is within the bound and changed something. */
  #change(edit: (next: JsonObject) => void): void {
    const next = this.toJSON();
    edit(next);
    if (JSON.stringify(next) === JSON.stringify(this.#values)) return;
    if (this.maxBytes !== undefined && this.maxBytes > 0) {
      const bytes = contextBytes(next);
      if (bytes > this.maxBytes) throw new ContextTooLargeError(bytes, this.maxBytes);
    }
    this.#values = next;
    this.onChange(this.toJSON());
  }
}
