/**
 * One worker's stream on this server: who it is, its free slots (credits), the attempts it
 * holds, and the messages waiting to be sent to it. Every report is checked against the
 * attempts it holds: a report for anything else is ignored and logged (fencing).
 *
 * Slots and held attempts change only through this class's methods (the dispatcher reserves
 * and returns credits, the worker service takes reported attempts, the duties take expired
 * ones); sessions themselves are owned by the `SessionRegistry`.
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ConnectResponseSchema,
  type Assignment,
  type AssignedParent,
  type ConnectResponse,
  type Drain,
  type Hello,
  type RefusedItem,
} from "../../../gen/taskwire/v1/worker_service_pb.js";
import { AsyncQueue } from "../../core/async-queue.js";
import type { Logger } from "../../core/logger.js";
import type { TaskRecord } from "../../core/task-types.js";
import { progressToProto } from "../convert.js";

/** An attempt held by a session. */
export interface HeldAttempt {
  attempt: number;
  queue: string;
  type: string;
  /** Epoch ms when the attempt times out; null: no timeout. */
  deadline: number | null;
}

/** What a session's lifecycle is in. */
export type SessionState = "ACTIVE" | "DRAINING" | "CLOSED";

export class WorkerSession {
  readonly workerId: string;
  readonly queues: readonly string[];
  readonly slots: number;
  readonly types: ReadonlySet<string>;
  readonly burst: boolean;
  /** Slots the worker granted that hold no task yet. */
  #credits = 0;
  /** Attempts assigned and not yet reported. */
  readonly #held = new Map<string, HeldAttempt>();
  /** Held attempts the worker was told to stop (`id:attempt`): each is told once. */
  readonly #cancelSent = new Set<string>();
  /** The pending write of each held attempt's last progress, awaited before its outcome. */
  readonly progressWrites = new Map<string, Promise<void>>();
  /** Epoch ms of the last message from the worker. */
  lastSeen = Date.now();
  state: SessionState = "ACTIVE";
  readonly outbox = new AsyncQueue<ConnectResponse>();
  /** Dispatcher claims for this session in flight: their tasks may still be assigned. */
  #claims = 0;
  /** A Drain held back until the claims in flight have been assigned. */
  #pendingDrain: Drain | undefined;

  constructor(
    readonly sessionId: string,
    hello: Hello,
    readonly logger: Logger,
  ) {
    this.workerId = hello.workerId;
    this.queues = hello.queues;
    this.slots = hello.slots;
    this.types = new Set(hello.types.map((t) => t.name));
    this.burst = hello.burst;
  }

  /** True while the dispatcher may assign tasks to it. */
  get acceptsWork(): boolean {
    return this.state === "ACTIVE" && this.#credits > 0;
  }

  /** Free slots no claim has reserved. */
  get credits(): number {
    return this.#credits;
  }

  /** Adds granted slots, capped so that held + credits never exceeds the declared slots. */
  grant(slots: number): void {
    const room = Math.max(0, this.slots - this.#held.size - this.#credits);
    if (slots > room) {
      this.logger.warn({ granted: slots, room }, "worker granted more slots than it has; capped");
    }
    this.#credits += Math.max(0, Math.min(slots, room));
  }

  /** Reserves up to `wanted` free slots for a claim. @returns how many were reserved. */
  reserve(wanted: number): number {
    const taken = Math.max(0, Math.min(wanted, this.#credits));
    this.#credits -= taken;
    return taken;
  }

  /** Gives back reserved slots a claim did not fill (none once the session stopped taking work). */
  unreserve(slots: number): void {
    if (this.state === "ACTIVE" && slots > 0) this.#credits += slots;
  }

  /** Attempts held now. */
  get heldCount(): number {
    return this.#held.size;
  }

  /** Whether the session holds this attempt. */
  holds(taskId: string, attempt: number): boolean {
    return this.#held.get(taskId)?.attempt === attempt;
  }

  /** Whether the session holds any attempt of this task. */
  holdsTask(taskId: string): boolean {
    return this.#held.has(taskId);
  }

  /** The attempt held of a task, if any. */
  heldAttempt(taskId: string): HeldAttempt | undefined {
    return this.#held.get(taskId);
  }

  /** The held attempts, as task id and attempt (read only). */
  heldEntries(): IterableIterator<[string, Readonly<HeldAttempt>]> {
    return this.#held.entries();
  }

  /**
   * Takes a reported attempt out of the held ones, if it is the one held (fencing).
   * @returns the attempt taken, or undefined when the session does not hold it.
   */
  take(taskId: string, attempt: number): HeldAttempt | undefined {
    const held = this.#held.get(taskId);
    if (held?.attempt !== attempt) return undefined;
    this.#held.delete(taskId);
    this.#cancelSent.delete(`${taskId}:${attempt}`);
    return held;
  }

  /** Takes the attempts whose deadline plus `graceMs` passed before `now`. */
  takeExpired(now: number, graceMs: number): { taskId: string; attempt: number; queue: string }[] {
    const expired: { taskId: string; attempt: number; queue: string }[] = [];
    for (const [taskId, held] of this.#held) {
      if (held.deadline !== null && held.deadline + graceMs < now) expired.push({ taskId, attempt: held.attempt, queue: held.queue });
    }
    for (const { taskId, attempt } of expired) {
      this.#held.delete(taskId);
      this.#cancelSent.delete(`${taskId}:${attempt}`);
    }
    return expired;
  }

  /** Takes every held attempt (the stream closed: they are lost). */
  takeAll(): [string, HeldAttempt][] {
    const all = [...this.#held];
    this.#held.clear();
    this.#cancelSent.clear();
    return all;
  }

  /**
   * Sends started tasks to the worker; each takes one credit (reserved by the dispatcher).
   * `parents`: the parents of the tasks that have some (`assigned-parents.ts`).
   */
  assign(tasks: readonly TaskRecord[], now: number, parents?: ReadonlyMap<string, AssignedParent[]>): void {
    const assignments: Assignment[] = [];
    for (const task of tasks) {
      const deadline = task.timeoutMs === null ? null : now + task.timeoutMs;
      this.#held.set(task.id, { attempt: task.attempt, queue: task.queue, type: task.type, deadline });
      assignments.push({
        $typeName: "taskwire.v1.Assignment",
        taskId: task.id,
        attempt: task.attempt,
        type: task.type,
        input: { $typeName: "google.protobuf.Any", typeUrl: task.inputTypeUrl, value: task.input },
        deadline: deadline === null ? undefined : timestampFromDate(new Date(deadline)),
        maxAttempts: task.maxAttempts,
        progress: task.progress ? progressToProto(task.progress) : undefined,
        traceparent: task.traceparent ?? "",
        tracestate: task.tracestate ?? "",
        context: task.context,
        parents: parents?.get(task.id) ?? [],
      });
    }
    this.send({ case: "assign", value: { $typeName: "taskwire.v1.Assign", tasks: assignments } });
  }

  /**
   * Tells the worker to stop attempts (cancel or deadline). An attempt it holds is told once,
   * however many paths ask (the control plane, the cancel sweep); one it no longer holds (a
   * deadline took it) is told regardless.
   */
  cancel(refs: readonly { taskId: string; attempt: number }[], reason: string): void {
    refs = refs.filter((r) => {
      if (!this.holds(r.taskId, r.attempt)) return true;
      const key = `${r.taskId}:${r.attempt}`;
      if (this.#cancelSent.has(key)) return false;
      this.#cancelSent.add(key);
      return true;
    });
    if (refs.length === 0) return;
    this.send({
      case: "cancel",
      value: {
        $typeName: "taskwire.v1.CancelTasks",
        reason,
        tasks: refs.map((r) => ({ $typeName: "taskwire.v1.TaskRef", taskId: r.taskId, attempt: r.attempt })),
      },
    });
  }

  /** Tells the worker which items of its reports were refused (see `RefusalNotices`); the stream goes on. */
  refused(items: readonly RefusedItem[]): void {
    if (items.length === 0) return;
    this.send({ case: "refused", value: { $typeName: "taskwire.v1.Refused", items: [...items] } });
  }

  /** Acknowledges recorded (or refused) results so the worker can forget them. */
  ack(refs: readonly { taskId: string; attempt: number }[]): void {
    if (refs.length === 0) return;
    this.send({
      case: "completeAck",
      value: {
        $typeName: "taskwire.v1.CompleteAck",
        tasks: refs.map((r) => ({ $typeName: "taskwire.v1.TaskRef", taskId: r.taskId, attempt: r.attempt })),
      },
    });
  }

  /**
   * Asks the worker to finish what it holds and go (reconnect elsewhere, or stop in burst mode).
   * No task is claimed for it from now on; when a claim is in flight, the Drain waits until its
   * tasks are assigned, so that the worker never receives an Assign after the Drain (it would
   * close its stream on tasks it has not seen, and they would be lost and run again).
   */
  drain(reason: string, stop = false): void {
    if (this.state !== "ACTIVE") return;
    this.state = "DRAINING";
    this.#credits = 0;
    const drain: Drain = { $typeName: "taskwire.v1.Drain", reason, stop };
    if (this.#claims > 0) this.#pendingDrain = drain;
    else this.send({ case: "drain", value: drain });
  }

  /** Claims of the dispatcher for this session that have not ended. */
  get claimsInFlight(): number {
    return this.#claims;
  }

  /** The dispatcher starts claiming tasks for this session. */
  beginClaim(): void {
    this.#claims++;
  }

  /** The dispatcher's claim ended (its tasks, if any, are assigned): a held-back Drain goes out. */
  endClaim(): void {
    this.#claims = Math.max(0, this.#claims - 1);
    if (this.#claims > 0 || this.#pendingDrain === undefined) return;
    const drain = this.#pendingDrain;
    this.#pendingDrain = undefined;
    this.send({ case: "drain", value: drain });
  }

  /** The worker said it takes no more work. */
  markDraining(): void {
    if (this.state === "ACTIVE") this.state = "DRAINING";
    this.#credits = 0;
  }

  /** Sends the Welcome that opens the stream, with the largest context an update may carry. */
  welcome(heartbeatIntervalMs: number, leaseTimeoutMs: number, maxContextBytes: number): void {
    this.send({
      case: "welcome",
      value: {
        $typeName: "taskwire.v1.Welcome",
        sessionId: this.sessionId,
        heartbeatInterval: durationFromMs(heartbeatIntervalMs),
        leaseTimeout: durationFromMs(leaseTimeoutMs),
        maxContextBytes,
      },
    });
  }

  /** Ends the outgoing stream, with an error when given. Safe to call twice. */
  close(error?: unknown): void {
    if (this.state === "CLOSED") return;
    this.state = "CLOSED";
    this.#credits = 0;
    if (error === undefined) this.outbox.end();
    else this.outbox.fail(error);
  }

  private send(message: ConnectResponse["message"]): void {
    if (this.state === "CLOSED") return;
    this.outbox.push(create(ConnectResponseSchema, { message }));
  }
}
