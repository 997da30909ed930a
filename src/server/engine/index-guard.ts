/**
 * Notices that the dispatch index was lost and has it rebuilt from PostgreSQL, once across all
 * servers. Redis holds only the index (DESIGN: "PostgreSQL is the truth, Redis is the index"),
 * so a Redis restarted empty or flushed loses no task, provided someone puts the unfinished
 * tasks back.
 *
 * The index carries a generation marker (`Broker.readEpoch`, `<prefix>:epoch` in Redis). Every
 * server checks it every {@link EPOCH_CHECK_MS} (from `Maintenance`) and once at start:
 * - `ready` with the token it knows: nothing to do;
 * - `ready` with another token: another server rebuilt the index; adopt it;
 * - `rebuilding`: another server is at it; its claim expires unless it keeps extending it
 *   (after every page), so a rebuilder that dies lets another server try;
 * - missing: the index was lost (or never built). The server that wins `beginRebuild` rebuilds
 *   (`index-rebuild.ts`: queued and scheduled tasks back in their sets, running attempts get
 *   their lease back so their holders keep renewing it) and marks the index `ready`.
 *
 * Apart from that, a server that could not write to the index after PostgreSQL took a change
 * (Redis unreachable right after a submission was stored) asks for a repair: a rebuild of its
 * own at the next check that finds Redis reachable, so that the stored task is indexed even
 * when Redis came back with its data (and hence with its marker).
 *
 * The token of a generation starts with the time its build began (`<ms>.<uuid>`): a claim numbers
 * attempts against it ({@link IndexGuard.indexBuiltAt}, `core/attempt-numbers.ts`), so that an
 * attempt claimed from a lost index and never written is not numbered again.
 *
 * Keep in line with the README's "Operations" section.
 */
import { randomUUID } from "node:crypto";
import type { Broker } from "../../broker/broker.js";
import type { Logger } from "../../core/logger.js";
import type { TaskStore } from "../../store/store.js";
import { rebuildIndex, type RebuildReport } from "./index-rebuild.js";

/** How often servers look at the index's marker. */
export const EPOCH_CHECK_MS = 1_000;
/** How long a rebuild's claim lasts unless extended; each page of the rebuild extends it. */
const REBUILD_CLAIM_MS = 30_000;

/** What an {@link IndexGuard} needs besides its broker and store. */
export interface IndexGuardOptions {
  /** The lease given back to running attempts by a rebuild. */
  leaseTimeoutMs: number;
  /**
   * True only where no worker can hold a running attempt when the index is built (the
   * embedded default at start); see `RebuildOptions.orphanRunning`. @default false
   */
  orphanRunning?: boolean;
  /**
   * Where the index and the tasks live, for the wording of logs: `redis` (Redis and PostgreSQL),
   * or `embedded` (the in-process broker, built from the embedded database at every start, so
   * that building it is routine and Redis is never mentioned). @default "redis"
   */
  backend?: "redis" | "embedded";
}

/** Watches the index's marker; see the file header. */
export class IndexGuard {
  readonly #broker: Broker;
  readonly #store: TaskStore;
  readonly #logger: Logger;
  readonly #options: IndexGuardOptions;
  /** The token of the index generation this server works with. */
  #known: string | undefined;
  /** Why a repair rebuild is due, if one is. */
  #repair: string | undefined;
  /** When the build of the known generation began (its token's time, or when it was adopted). */
  #builtAt = 0;

  constructor(broker: Broker, store: TaskStore, logger: Logger, options: IndexGuardOptions) {
    this.#broker = broker;
    this.#store = store;
    this.#logger = logger.child({ component: "index-guard" });
    this.#options = options;
  }

  /** The token of the index generation this server adopted; undefined before the first check. */
  get epoch(): string | undefined {
    return this.#known;
  }

  /**
   * Asks for a repair rebuild at the next check: a change stored in PostgreSQL may be missing
   * from the index (Redis could not be written to).
   */
  requestRepair(reason: string): void {
    if (this.#repair === undefined) this.#logger.warn({ reason }, "the dispatch index may miss a change; it is repaired once Redis answers");
    this.#repair ??= reason;
  }

  /**
   * Looks at the marker once and acts on it (see the file header).
   * @returns the report when this server rebuilt or repaired the index, else undefined.
   * @throws UnavailableError when Redis or PostgreSQL cannot be reached (the next check retries).
   */
  async check(): Promise<RebuildReport | undefined> {
    const epoch = await this.#broker.readEpoch();
    if (epoch === null) return this.#rebuildLost();
    if (epoch.state === "rebuilding") return undefined;
    if (epoch.token !== this.#known) this.#adopt(epoch.token);
    if (this.#repair !== undefined) return this.#repairIndex(this.#repair);
    return undefined;
  }

  /**
   * When the build of the index a claim just took tasks from began, read from the broker's
   * marker now (after the claim): attempts are numbered against it (`core/attempt-numbers.ts`).
   * A marker that is missing or being rebuilt gives now: every task the claim took was indexed
   * by a build that began earlier.
   */
  async indexBuiltAt(): Promise<Date> {
    const epoch = await this.#broker.readEpoch();
    if (epoch === null || epoch.state === "rebuilding") return new Date();
    if (epoch.token !== this.#known) this.#adopt(epoch.token);
    return new Date(this.#builtAt);
  }

  /** Adopts another server's generation; a token without a time (older versions) counts from now, which is later than its build. */
  #adopt(token: string): void {
    if (this.#known !== undefined) this.#logger.warn({ epoch: token }, "the dispatch index was rebuilt by another server; adopted");
    this.#known = token;
    const time = /^(\d{13})\./.exec(token)?.[1];
    this.#builtAt = time === undefined ? Date.now() : Number(time);
  }

  async #rebuildLost(): Promise<RebuildReport | undefined> {
    const token = `${Date.now()}.${randomUUID()}`;
    if (!(await this.#broker.beginRebuild(token, REBUILD_CLAIM_MS))) return undefined;
    if (this.#options.backend === "embedded") this.#logger.info("building the in-process dispatch index from the embedded database");
    else if (this.#known === undefined) this.#logger.info("no dispatch index in Redis (a new deployment, or Redis was lost while no server ran): building it from PostgreSQL");
    else this.#logger.warn({ lost: this.#known }, "the dispatch index was lost (Redis restarted empty or was flushed): rebuilding it from PostgreSQL");
    const repair = this.#repair;
    this.#repair = undefined;
    let report: RebuildReport;
    try {
      report = await rebuildIndex(this.#store, this.#broker, this.#logger, {
        orphanRunning: this.#options.orphanRunning ?? false,
        leaseTimeoutMs: this.#options.leaseTimeoutMs,
        onPage: async () => {
          if (!(await this.#broker.extendRebuild(token, REBUILD_CLAIM_MS))) throw new Error("the dispatch index was lost again while it was rebuilt");
        },
      });
    } catch (error) {
      this.#repair ??= repair;
      await this.#broker.endRebuild(token, "abandoned").catch(() => false);
      throw error;
    }
    if (!(await this.#broker.endRebuild(token, "ready"))) {
      this.#logger.warn("the dispatch index was lost again while it was rebuilt; rebuilding on the next check");
      return report;
    }
    this.#known = token;
    this.#builtAt = Number(token.slice(0, token.indexOf(".")));
    return report;
  }

  async #repairIndex(reason: string): Promise<RebuildReport> {
    this.#repair = undefined;
    this.#logger.info({ reason }, "repairing the dispatch index from PostgreSQL");
    try {
      return await rebuildIndex(this.#store, this.#broker, this.#logger, { orphanRunning: false, leaseTimeoutMs: this.#options.leaseTimeoutMs });
    } catch (error) {
      this.#repair ??= reason;
      throw error;
    }
  }
}
