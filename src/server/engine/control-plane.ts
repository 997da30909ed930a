/**
 * The control plane: how any server reaches a worker's stream, or every server, wherever the
 * call arrived. Messages travel through the broker (Redis pub/sub in production, in-process for
 * the embedded default), addressed to the server that holds a worker's stream or to the fleet.
 *
 * Pub/sub delivers at most once, so nothing depends on a message alone: each message is a
 * nudge to act on state that PostgreSQL already holds (a task recorded CANCELLING, a queue
 * recorded paused), and the duties re-read that state on their own (`cancel-sweep.ts`,
 * `queue-settings.ts`), so a lost message costs a delay, never a wrong outcome.
 */
import type { Broker, ControlTarget, Unsubscribe } from "../../broker/broker.js";
import type { Logger } from "../../core/logger.js";
import type { TaskStore } from "../../store/store.js";
import type { SessionRegistry } from "./session-registry.js";

/** A message of the control plane. */
export type ControlMessage =
  /** Stop these attempts: their tasks were cancelled. */
  | { kind: "cancel"; tasks: { taskId: string; attempt: number }[]; reason: string }
  /** Ask a worker to finish what it holds and go. */
  | { kind: "drain-worker"; workerId: string; reason: string }
  /** Queue settings (paused) changed: read them again. */
  | { kind: "queues-changed" }
  /** Dispatch limits (AdminService.SetLimit/ClearLimit) changed: read them again. */
  | { kind: "limits-changed" };

/** What this server does with control messages, local or received. */
export interface ControlHandlers {
  /** Re-reads the queue settings (pause/resume). */
  queuesChanged(): void;
  /** Re-reads the dispatch limits. @default nothing (a server without limits to apply) */
  limitsChanged?(): void;
  /** A worker of this server was asked to drain (to record it). */
  workerDraining(workerId: string, sessionId: string): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class ControlPlane {
  #unsubscribe: Unsubscribe | undefined;

  constructor(
    private readonly broker: Broker,
    /** This server's id (`servers.id`). */
    readonly serverId: string,
    private readonly sessions: SessionRegistry,
    /** Where workers are connected (`workers.server_id`). */
    private readonly store: Pick<TaskStore, "getWorker">,
    private readonly handlers: ControlHandlers,
    private readonly logger: Logger,
  ) {}

  /** Starts receiving the messages sent to this server and to the fleet. */
  async start(): Promise<void> {
    this.#unsubscribe = await this.broker.onControl(this.serverId, (payload) => this.#receive(payload));
  }

  /**
   * Sends a message: acted on here at once when it concerns this server (or the fleet), and
   * sent through the broker when it concerns another server (or the fleet).
   */
  async send(target: ControlTarget, message: ControlMessage): Promise<void> {
    const local = target === "fleet" || target.server === this.serverId;
    if (local) this.#act(message);
    if (target === "fleet" || target.server !== this.serverId) {
      await this.broker.publishControl(target, encoder.encode(JSON.stringify({ from: this.serverId, message })));
    }
  }

  /**
   * Tells the workers running these attempts to stop them: those on this server at once, the
   * others through the servers holding their streams (from the workers' records; a worker of
   * unknown whereabouts: the whole fleet).
   */
  async cancel(attempts: readonly { taskId: string; attempt: number; workerId: string | null }[], reason: string): Promise<void> {
    const remote: { taskId: string; attempt: number; workerId: string | null }[] = [];
    for (const a of attempts) {
      const session = this.sessions.holding(a.taskId);
      if (session) session.cancel([{ taskId: a.taskId, attempt: a.attempt }], reason);
      else remote.push(a);
    }
    if (remote.length === 0) return;
    const workerIds = [...new Set(remote.flatMap((a) => (a.workerId === null ? [] : [a.workerId])))];
    const servers = await this.#serversOf(workerIds);
    const byTarget = new Map<string, { taskId: string; attempt: number }[]>();
    for (const a of remote) {
      const server = a.workerId === null ? undefined : servers.get(a.workerId);
      const key = server === undefined || server === "" ? "" : server;
      const list = byTarget.get(key) ?? [];
      list.push({ taskId: a.taskId, attempt: a.attempt });
      byTarget.set(key, list);
    }
    await Promise.all(
      [...byTarget].map(([server, tasks]) =>
        this.broker.publishControl(server === "" ? "fleet" : { server }, encoder.encode(JSON.stringify({ from: this.serverId, message: { kind: "cancel", tasks, reason } }))),
      ),
    );
  }

  /** The server holding each worker's stream, by worker id (absent: unknown). */
  async #serversOf(workerIds: readonly string[]): Promise<Map<string, string>> {
    const servers = new Map<string, string>();
    const workers = await Promise.all(workerIds.map((id) => this.store.getWorker(id)));
    for (const worker of workers) {
      if (worker && worker.disconnectedAt === null && worker.serverId !== "") servers.set(worker.id, worker.serverId);
    }
    return servers;
  }

  /** Asks a worker to drain, on whichever server holds its stream. */
  async drainWorker(workerId: string, serverId: string, reason: string): Promise<void> {
    await this.send(serverId === "" ? "fleet" : { server: serverId }, { kind: "drain-worker", workerId, reason });
  }

  /** Tells every server that queue settings changed. */
  async queuesChanged(): Promise<void> {
    await this.send("fleet", { kind: "queues-changed" });
  }

  /** Tells every server that dispatch limits changed. */
  async limitsChanged(): Promise<void> {
    await this.send("fleet", { kind: "limits-changed" });
  }

  /** Stops receiving; safe to call twice. */
  async close(): Promise<void> {
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = undefined;
    await unsubscribe?.();
  }

  #receive(payload: Uint8Array): void {
    let envelope: { from?: unknown; message?: ControlMessage };
    try {
      envelope = JSON.parse(decoder.decode(payload)) as { from?: unknown; message?: ControlMessage };
    } catch (error) {
      this.logger.warn({ err: error }, "ignored a control message that is not JSON");
      return;
    }
    // A fleet message this server sent was acted on when it was sent.
    if (envelope.from === this.serverId || envelope.message === undefined) return;
    this.#act(envelope.message);
  }

  #act(message: ControlMessage): void {
    switch (message.kind) {
      case "cancel":
        for (const { taskId, attempt } of message.tasks) {
          const session = this.sessions.holding(taskId);
          if (session?.holds(taskId, attempt)) session.cancel([{ taskId, attempt }], message.reason);
        }
        return;
      case "drain-worker": {
        const session = this.sessions.get(message.workerId);
        if (!session) return;
        session.logger.info({ reason: message.reason }, "worker asked to drain by an operator");
        session.drain(message.reason, true);
        this.handlers.workerDraining(session.workerId, session.sessionId);
        return;
      }
      case "queues-changed":
        this.handlers.queuesChanged();
        return;
      case "limits-changed":
        this.handlers.limitsChanged?.();
        return;
      default:
        this.logger.warn({ message }, "ignored an unknown control message");
    }
  }
}
