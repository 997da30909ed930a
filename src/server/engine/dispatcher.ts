/**
 * Matches free worker slots to queued tasks. Each worker's queues are served strictly in its
 * order; within a queue the broker hands out the highest priority first, FIFO within a
 * priority, of the types the worker serves only (`Broker.claim` takes the types): a task of
 * another type is never handed out and never blocks the ones behind it. A pass runs when work
 * arrives (broker wake-ups from any server), when a worker grants slots, when a claim assigned
 * tasks, and on a slow safety tick. Claims of one session overlap (a few chunks at a time), so
 * a busy worker's slots refill as a pipeline.
 *
 * A queue a claim emptied of the session's types is skipped, by every session serving those
 * same types, until a wake-up for the queue arrives (every broker operation that makes tasks
 * runnable publishes one): a worker serving `high_priority, default, low_priority` would
 * otherwise pay a Redis round trip per empty queue ahead of its work on every pass. The mark is
 * per set of types, because a queue empty of one worker's types may hold another's. A claim
 * marks a queue only if no wake-up for it arrived while the claim was in flight, so a task
 * enqueued meanwhile is never skipped; the safety tick (`recheck`) forgets every mark, in case
 * a wake-up was lost with a Redis connection.
 *
 * The claim is the attempt's start: the broker leases the tasks, one read of PostgreSQL (no
 * write) gives the ones still waiting with their inputs, and they go to the worker at once as
 * their next attempts (`core/attempt-numbers.ts` numbers them, against the index generation read
 * after the claim). PostgreSQL learns the starts later, from the {@link StartWriter} or with the
 * attempts' outcomes, so a task costs one PostgreSQL write on its path.
 *
 * A claim is in flight from the moment the broker leased its tasks until they are assigned or put
 * back: lease renewal renews those leases ({@link Dispatcher.claimedLeases}) and no reaper takes
 * them ({@link Dispatcher.isClaimed}). When PostgreSQL does not answer the read, the claim keeps
 * its leases and reads again (100 ms doubling to 2 s) until it answers; nothing was written, so
 * a PostgreSQL that hangs costs no attempt and runs no task twice.
 */
import { WAITING_STATES } from "../../core/task-states.js";
import { assignedParents } from "./assigned-parents.js";
import type { Broker, LeaseRef } from "../../broker/broker.js";
import { UnavailableError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import { TERMINAL_STATES } from "../../core/task-types.js";
import type { NotStarted, StartedAttempts, TaskStore } from "../../store/store.js";
import type { StartWriter } from "./start-writer.js";
import { stateEvent, type TaskEvents } from "./task-events.js";
import type { SessionRegistry } from "./session-registry.js";
import type { WorkerSession } from "./worker-session.js";

/**
 * Most tasks one claim takes. A larger grant is claimed in several chunks at once, so the first
 * tasks reach the worker while the next are being started, instead of the worker and the server
 * taking turns on one large batch. With chunks of 100, a worker of 100 slots was served one
 * batch at a time (claim, start, run, finish in lockstep); chunks of 25 keep four claims in
 * flight and doubled its throughput in the benchmark (about 3,000 to 6,300 tasks/s).
 */
const CLAIM_CHUNK = 25;

/** Claims in flight for one session at once (each holds a PostgreSQL connection while it reads its tasks). */
const CLAIMS_PER_SESSION = 4;

/** First wait before a claim whose read PostgreSQL did not answer reads again; doubles up to {@link READ_RETRY_MAX_MS}. */
const READ_RETRY_MS = 100;
const READ_RETRY_MAX_MS = 2_000;

export class Dispatcher {
  private closed = false;
  /** Queues an operator paused (fleet-wide, from PostgreSQL): nothing is claimed from them. */
  private paused: ReadonlySet<string> = new Set();
  private readonly inFlight = new Set<Promise<void>>();
  /** Per queue, the type sets ({@link Dispatcher.typesKey}) a claim found it empty of, with no wake-up for it since. */
  private readonly emptyQueues = new Map<string, Set<string>>();
  /** Each session's types as one string, so that sessions serving the same types share empty marks. */
  private readonly typeKeys = new WeakMap<WorkerSession, string>();
  /** Wake-ups seen per queue; a claim compares the count before and after. */
  private readonly wakeCounts = new Map<string, number>();
  /** Wake-ups seen for any queue; a pass that found nothing compares it before and after. */
  private wakes = 0;
  /** Tasks of the claims in flight (leased by the broker, not yet assigned nor put back): task id → queue. */
  private readonly claimed = new Map<string, string>();
  /** The build time of the index generation the last claim read (`indexBuiltAt`); claims number against it while they read the next. */
  private builtAt: Date | undefined;
  /** Aborted by `close()`: claims waiting for PostgreSQL stop waiting. */
  private readonly closing = new AbortController();

  constructor(
    private readonly sessions: SessionRegistry,
    private readonly broker: Broker,
    private readonly store: TaskStore,
    private readonly starts: StartWriter,
    private readonly events: TaskEvents,
    private readonly leaseTimeoutMs: number,
    private readonly logger: Logger,
    /** When the build of the index claims take tasks from began (`IndexGuard.indexBuiltAt`), read after each claim. */
    private readonly indexBuiltAt: () => Promise<Date>,
  ) {}

  /**
   * Sets the paused queues. A queue resumed is tried again at once; a queue paused is not
   * claimed from by any pass that starts from now on (claims in flight finish).
   */
  setPaused(queues: ReadonlySet<string>): void {
    const resumed = [...this.paused].some((queue) => !queues.has(queue));
    const changed = resumed || [...queues].some((queue) => !this.paused.has(queue));
    this.paused = queues;
    if (changed) this.logger.info({ paused: [...queues].sort() }, "paused queues changed");
    if (resumed) this.recheck();
  }

  /** Whether dispatch from `queue` is paused. */
  isPaused(queue: string): boolean {
    return this.paused.has(queue);
  }

  /**
   * A dispatch pass: every session with free slots gets claims for them, in chunks, up to
   * {@link CLAIMS_PER_SESSION} in flight. Slots granted while a session's claims are all in
   * flight wait for the next pass, which each claim that assigned tasks asks for.
   */
  kick(): void {
    if (this.closed) return;
    for (const session of this.sessions.all()) {
      if (!session.acceptsWork) continue;
      if (!this.hasQueueToTry(session)) {
        // Nothing to claim: no claim would run (nor end the loop below by awaiting anything).
        this.drainIfBurstDone(session);
        continue;
      }
      while (session.acceptsWork && session.claimsInFlight < CLAIMS_PER_SESSION) {
        const want = session.reserve(CLAIM_CHUNK);
        session.beginClaim();
        const claim = this.fill(session, want)
          .catch((error: unknown) => this.logger.error({ err: error }, "dispatch failed"))
          .finally(() => this.inFlight.delete(claim));
        this.inFlight.add(claim);
      }
    }
  }

  /** Tasks of `queue` became runnable (on any server): claim from it again, now. */
  wake(queue: string): void {
    this.wakes++;
    this.wakeCounts.set(queue, (this.wakeCounts.get(queue) ?? 0) + 1);
    this.emptyQueues.delete(queue);
    this.kick();
  }

  /** A pass that tries every queue again, however empty it was found (the safety tick). */
  recheck(): void {
    this.emptyQueues.clear();
    this.kick();
  }

  /**
   * Stops dispatching; resolves when the claims in flight ended. A claim waiting for PostgreSQL
   * stops waiting: its leases lapse and a reaper puts its tasks back.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    await Promise.all(this.inFlight);
  }

  /** The leases of the tasks of claims in flight: this server renews them (lease renewal). */
  claimedLeases(): LeaseRef[] {
    return [...this.claimed].map(([id, queue]) => ({ id, queue }));
  }

  /** Whether a claim in flight here holds the task (a reaper must leave it alone). */
  isClaimed(taskId: string): boolean {
    return this.claimed.has(taskId);
  }

  /**
   * Fills up to `want` of one session's slots from its queues, in order: a queue is left for the
   * next one only when it held fewer tasks than asked.
   */
  private async fill(session: WorkerSession, want: number): Promise<void> {
    let started = 0;
    const wakesBefore = this.wakes;
    try {
      for (const queue of session.queues) {
        if (started === want || session.state !== "ACTIVE") break;
        if (!this.worthTrying(session, queue)) continue;
        const asked = want - started;
        try {
          const assigned = await this.claimInto(session, queue, asked);
          started += assigned;
          if (assigned === asked) break;
        } catch (error) {
          this.logger.warn({ err: error, queue }, "claim failed; retrying on the next pass");
        }
      }
    } finally {
      session.unreserve(want - started);
      session.endClaim();
    }
    if (started > 0 || this.wakes !== wakesBefore) {
      // The queues may hold more, and slots granted meanwhile wait for a pass; or tasks arrived
      // while this claim held the slots, and the pass of their wake-up found none free.
      this.kick();
    } else {
      this.drainIfBurstDone(session);
    }
  }

  /** Whether a claim from `queue` for `session` may find work: not paused, not found empty of its types. */
  private worthTrying(session: WorkerSession, queue: string): boolean {
    return !this.paused.has(queue) && this.emptyQueues.get(queue)?.has(this.typesKey(session)) !== true;
  }

  /** The session's types, sorted, as one string (type names hold no spaces). */
  private typesKey(session: WorkerSession): string {
    let key = this.typeKeys.get(session);
    if (key === undefined) {
      key = [...session.types].sort().join(" ");
      this.typeKeys.set(session, key);
    }
    return key;
  }

  private markEmpty(session: WorkerSession, queue: string): void {
    let marks = this.emptyQueues.get(queue);
    if (marks === undefined) {
      marks = new Set();
      this.emptyQueues.set(queue, marks);
    }
    marks.add(this.typesKey(session));
  }

  private hasQueueToTry(session: WorkerSession): boolean {
    return session.queues.some((queue) => this.worthTrying(session, queue));
  }

  /** A burst worker with nothing running and nothing to claim is done: drain it. */
  private drainIfBurstDone(session: WorkerSession): void {
    if (session.burst && session.heldCount === 0 && session.claimsInFlight === 0 && session.state === "ACTIVE") {
      session.drain("burst: the worker's queues are empty");
    }
  }

  /** Claims up to `count` tasks of `queue`, starts their attempts and assigns them. @returns how many were assigned. */
  private async claimInto(session: WorkerSession, queue: string, count: number): Promise<number> {
    const now = Date.now();
    const wakesBefore = this.wakeCounts.get(queue) ?? 0;
    const types = [...session.types];
    const ids = await this.broker.claim(queue, types, count, now + this.leaseTimeoutMs);
    if (ids.length < count && (this.wakeCounts.get(queue) ?? 0) === wakesBefore) this.markEmpty(session, queue);
    if (ids.length === 0) return 0;
    for (const id of ids) this.claimed.set(id, queue);
    try {
      return await this.startClaimed(session, queue, ids, now, types);
    } finally {
      for (const id of ids) if (this.claimed.get(id) === queue) this.claimed.delete(id);
    }
  }

  /** Starts the attempts of claimed tasks and assigns them (see {@link claimInto}). */
  private async startClaimed(session: WorkerSession, queue: string, ids: string[], now: number, types: string[]): Promise<number> {
    const { started, others } = await this.beginAttempts(session, ids, now, types);

    if (others.length > 0) await this.putBack(queue, others);
    if (started.length === 0) return 0;
    // Issue 17: the parents of dependent tasks, with their outputs, for the Assignment: one query,
    // none when no started task has parents. Read before the stream check below.
    const parents = await assignedParents(this.store, started);
    if (session.state === "CLOSED") {
      // The stream died while we claimed: nothing was handed out nor written; the tasks go back as they were.
      await this.broker.requeue(started.map((t) => ({ id: t.id, queue, type: t.type, priority: t.priority })));
      return 0;
    }
    const startedAt = new Date(now);
    this.starts.begin(started.map((t) => ({ id: t.id, attempt: t.attempt, workerId: session.workerId, startedAt })));
    session.assign(started, now, parents);
    this.events.publish(started.map(stateEvent));
    return started.length;
  }

  /**
   * `store.beginAttempts` of claimed tasks, numbered against the index generation read now
   * (after the claim). The generation is read beside the tasks, which are numbered against the
   * one the previous claim read; when the two differ (the index was rebuilt meanwhile), the
   * tasks are read again and numbered against the new one (nothing was handed out nor written;
   * the metrics count those starts twice, once per index rebuild).
   * When PostgreSQL or Redis does not answer, it reads again (100 ms doubling to 2 s) until they
   * do; the claim's leases are renewed meanwhile (they are {@link claimed}).
   * @throws the store's error when it is not unavailability; UnavailableError (`SHUTTING_DOWN`)
   *   when the dispatcher closes while waiting.
   */
  private async beginAttempts(session: WorkerSession, ids: string[], now: number, types: string[]): Promise<StartedAttempts> {
    for (let tries = 0; ; tries++) {
      if (tries > 0) await this.pauseUnlessClosed(Math.min(READ_RETRY_MAX_MS, READ_RETRY_MS * 2 ** Math.min(tries - 1, 10)));
      try {
        const known = this.builtAt;
        const [builtAt, begun] = await Promise.all([
          this.indexBuiltAt(),
          known === undefined ? undefined : this.store.beginAttempts(ids, session.workerId, new Date(now), types, known),
        ]);
        this.builtAt = builtAt;
        const result = begun !== undefined && known?.getTime() === builtAt.getTime() ? begun : await this.store.beginAttempts(ids, session.workerId, new Date(now), types, builtAt);
        if (tries > 0) this.logger.info({ workerId: session.workerId, tasks: ids.length, tries: tries + 1 }, "claim read its tasks once PostgreSQL and Redis answered");
        return result;
      } catch (error) {
        if (!isUnavailable(error)) throw error;
        if (tries === 0) this.logger.warn({ err: error, workerId: session.workerId, tasks: ids.length }, "a claim's read was not answered; its tasks keep their leases until it is");
      }
    }
  }

  /** Waits `ms`; rejects with `SHUTTING_DOWN` at once when the dispatcher closes. */
  private pauseUnlessClosed(ms: number): Promise<void> {
    const signal = this.closing.signal;
    const closed = () => new UnavailableError("SHUTTING_DOWN", "the server stopped while a claim waited for PostgreSQL; a reaper puts its tasks back");
    if (signal.aborted) return Promise.reject(closed());
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(closed());
      };
      const timer = setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * Claimed tasks that were not started because their state changed since they were indexed:
   * requeue those still waiting (a SCHEDULED one not yet due, which an index rebuild may have
   * enqueued early, back to the delayed set), drop leases of finished ones.
   */
  private async putBack(queue: string, others: readonly NotStarted[]): Promise<void> {
    const requeue = others.filter((t) => t.state !== null && WAITING_STATES.has(t.state));
    const release = others.filter((t) => t.state === null || TERMINAL_STATES.has(t.state));
    if (requeue.length > 0) {
      await this.broker.requeue(
        requeue.map((t) => ({
          id: t.id,
          queue,
          type: t.type,
          priority: t.priority,
          runAt: t.state === "SCHEDULED" && t.scheduledAt !== null ? t.scheduledAt.getTime() : undefined,
        })),
      );
    }
    if (release.length > 0) await this.broker.release(release.map((t) => ({ id: t.id, queue })));
  }
}

/** PostgreSQL or Redis did not answer (not a shutdown). */
function isUnavailable(error: unknown): boolean {
  return error instanceof UnavailableError && (error.reason === "STORE_UNAVAILABLE" || error.reason === "BROKER_UNAVAILABLE");
}
