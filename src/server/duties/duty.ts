/**
 * The server's periodic duties, each one file in this folder behind this one interface, so that
 * adding a duty is adding a file (and a line in `taskwire-server.ts`).
 *
 * Most duties are {@link periodic}: a task run on an interval, never two runs at once, whose
 * failures during an outage are logged once (the first failure and the recovery, not every
 * tick). An `exclusive` duty runs on one server of the fleet at a time: before each run it
 * takes or keeps a broker lease named after it (`Broker.holdDutyLease`), and skips the run
 * when another server holds it; the lease outlives a few intervals, so a holder that dies
 * hands the duty over within that time.
 */
import type { Broker } from "../../broker/broker.js";
import type { Logger } from "../../core/logger.js";

/** A periodic job of the server. */
export interface Duty {
  readonly name: string;
  /** Arms its timers. */
  start(): void;
  /** Stops its timers (a run in progress finishes on its own) and gives up its lease; safe to call twice. */
  close(): Promise<void>;
}

/** How a {@link periodic} duty runs. */
export interface PeriodicOptions {
  name: string;
  intervalMs: number;
  run: () => Promise<void>;
  logger: Logger;
  /**
   * Run on one server of the fleet at a time, under a broker lease held as `holder` (the
   * server's id). @default not exclusive: every server runs it
   */
  exclusive?: {
    broker: Pick<Broker, "holdDutyLease" | "releaseDutyLease">;
    holder: string;
    /** Told when this server takes the duty (true) or another server has it (false). */
    onLeaseChange?: (held: boolean) => void;
  };
  /** Also run once at start. @default false */
  runAtStart?: boolean;
}

/** How long an exclusive duty's lease lasts past each run: a few intervals, at least 10 s. */
export function dutyLeaseMs(intervalMs: number): number {
  return Math.max(10_000, 3 * intervalMs);
}

/** A duty that runs `run` every `intervalMs`; see the file header. */
export function periodic(options: PeriodicOptions): Duty {
  const { name, intervalMs, logger, exclusive } = options;
  let timer: NodeJS.Timeout | undefined;
  let busy = false;
  let closed = false;
  let failing = false;
  let holding = false;

  const tick = async (): Promise<void> => {
    if (exclusive) {
      const held = await exclusive.broker.holdDutyLease(name, exclusive.holder, dutyLeaseMs(intervalMs));
      if (held !== holding) {
        logger.info({ duty: name }, held ? "this server runs the duty now" : "another server runs the duty");
        exclusive.onLeaseChange?.(held);
      }
      holding = held;
      if (!held) return;
    }
    await options.run();
  };

  const fire = (): void => {
    if (busy || closed) return;
    busy = true;
    tick()
      .then(
        () => {
          if (failing) logger.info(`${name} works again`);
          failing = false;
        },
        (error: unknown) => {
          if (!failing) logger.warn({ err: error }, `${name} failed; retrying on every tick`);
          failing = true;
        },
      )
      .finally(() => (busy = false));
  };

  return {
    name,
    start() {
      if (timer !== undefined || closed) return;
      timer = setInterval(fire, intervalMs);
      timer.unref();
      if (options.runAtStart) fire();
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      if (exclusive && holding) {
        holding = false;
        await exclusive.broker.releaseDutyLease(name, exclusive.holder).catch((error: unknown) => logger.debug({ err: error, duty: name }, "could not release a duty lease"));
      }
    },
  };
}
