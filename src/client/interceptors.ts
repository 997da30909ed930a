/**
 * Client interceptors: code that runs around every submission of a client (`submit`,
 * `submitByName`, `submitBatch` and what is built on them), given once to `createClient`.
 * `beforeSubmit` sees the request about to be sent and may change it: add a label or context
 * taken from the caller's own request (a tenant, a workspace, a user id), set a default queue,
 * or refuse by throwing. `afterSubmit` sees each task the server created (or found by its
 * idempotency key): record its id, count submissions.
 *
 * Interceptors run in the order given, `beforeSubmit` for every item before the call,
 * `afterSubmit` for every item after it. An error thrown by `beforeSubmit` reaches the caller and
 * nothing is sent; one thrown by `afterSubmit` reaches the caller as an {@link AfterSubmitError},
 * which says that the tasks exist.
 *
 * Keep in line with the README's "Client interceptors" section.
 */
import type { TaskState } from "../../gen/taskwire/v1/task_pb.js";
import type { SubmitRequest } from "../../gen/taskwire/v1/task_service_pb.js";

/** Which call a submission is part of. */
export interface SubmitCall {
  /** `submit` for `submit` and `submitByName`; `submitBatch` for a batch (and what is built on it). */
  readonly method: "submit" | "submitBatch";
  /** The item's position in its batch; 0 for `submit`. */
  readonly index: number;
}

/** A task the server answered for a submission. */
export interface SubmittedTaskInfo {
  readonly id: string;
  readonly state: TaskState;
  /** True when the idempotency key matched an existing task. */
  readonly existing: boolean;
}

/**
 * Runs before and after each submission of a client.
 * @example
 * const tenantLabel: SubmitInterceptor = {
 *   beforeSubmit(request) {
 *     const tenant = requestContext.getStore()?.tenant;
 *     if (tenant) request.labels["tenant"] = tenant;
 *   },
 *   afterSubmit(request, task) {
 *     audit.record(task.id, request.type);
 *   },
 * };
 * const client = createClient({ url, interceptors: [tenantLabel] });
 */
export interface SubmitInterceptor {
  /** May change `request` (a generated `SubmitRequest`: labels, queue, priority, …) or throw to refuse. */
  beforeSubmit?(request: SubmitRequest, call: SubmitCall): void | Promise<void>;
  /** Called once the server answered, with the task it created or found. */
  afterSubmit?(request: SubmitRequest, task: SubmittedTaskInfo, call: SubmitCall): void | Promise<void>;
}

/**
 * An `afterSubmit` interceptor threw: the submission itself succeeded, so the tasks exist (their
 * ids are here); resubmitting would create them again unless they carry an idempotency key.
 */
export class AfterSubmitError extends Error {
  override readonly name = "AfterSubmitError";
  constructor(
    /** The tasks of the call, all of them submitted. */
    readonly tasks: readonly SubmittedTaskInfo[],
    options: { cause: unknown },
  ) {
    super(`the submission succeeded (${tasks.map((task) => task.id).join(", ")}) but an afterSubmit interceptor threw: ${messageOf(options.cause)}`, options);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The interceptors of one client. */
export class SubmitInterceptors {
  readonly #list: readonly SubmitInterceptor[];

  constructor(list: readonly SubmitInterceptor[] = []) {
    for (const [index, interceptor] of list.entries()) {
      const hooks = typeof interceptor === "object" && interceptor !== null ? [interceptor.beforeSubmit as unknown, interceptor.afterSubmit as unknown] : undefined;
      const valid = hooks !== undefined && hooks.some((hook) => hook !== undefined) && hooks.every((hook) => hook === undefined || typeof hook === "function");
      if (!valid) throw new TypeError(`interceptors[${index}] must be an object with beforeSubmit and/or afterSubmit functions`);
    }
    this.#list = [...list];
  }

  /** Runs every `beforeSubmit` on each request, in order. */
  async before(requests: readonly SubmitRequest[], method: SubmitCall["method"]): Promise<void> {
    if (this.#list.length === 0) return;
    for (const [index, request] of requests.entries()) {
      for (const interceptor of this.#list) await interceptor.beforeSubmit?.(request, { method, index });
    }
  }

  /** Runs every `afterSubmit` on each answered task, in order. @throws AfterSubmitError */
  async after(requests: readonly SubmitRequest[], tasks: readonly SubmittedTaskInfo[], method: SubmitCall["method"]): Promise<void> {
    if (this.#list.length === 0) return;
    try {
      for (const [index, request] of requests.entries()) {
        const task = tasks[index];
        if (!task) continue;
        for (const interceptor of this.#list) await interceptor.afterSubmit?.(request, task, { method, index });
      }
    } catch (error) {
      throw new AfterSubmitError(tasks, { cause: error });
    }
  }
}
