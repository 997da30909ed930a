/**
 * Queue depth for `taskwire_queue_depth`: every queue's queued, scheduled and running counts,
 * from the broker's index (Redis: one script call per queue; no PostgreSQL query), read at most
 * once per `maxAgeMs` however often and however many Prometheus servers scrape. The figures are
 * fleet-wide: every server reports the same ones (aggregate with `max by (queue, state)`).
 */
import type { Broker } from "../../broker/broker.js";
import type { Logger } from "../../core/logger.js";

/** One queue's depth. */
export interface QueueDepthRow {
  queue: string;
  queued: number;
  scheduled: number;
  running: number;
}

/** How long a read of the depths is reused, in ms. */
export const QUEUE_DEPTH_MAX_AGE_MS = 5_000;

/** Cached reads of every queue's depth; see the file header. */
export class QueueDepth {
  #rows: readonly QueueDepthRow[] = [];
  #readAt = Number.NEGATIVE_INFINITY;
  #reading: Promise<readonly QueueDepthRow[]> | undefined;

  constructor(
    private readonly broker: Pick<Broker, "queues" | "counts">,
    private readonly logger: Logger,
    private readonly maxAgeMs = QUEUE_DEPTH_MAX_AGE_MS,
  ) {}

  /** The depths, read now when the last read is older than `maxAgeMs`; the last ones when the broker fails. */
  read(): Promise<readonly QueueDepthRow[]> {
    if (Date.now() - this.#readAt < this.maxAgeMs) return Promise.resolve(this.#rows);
    this.#reading ??= this.#read().finally(() => (this.#reading = undefined));
    return this.#reading;
  }

  async #read(): Promise<readonly QueueDepthRow[]> {
    try {
      const queues = await this.broker.queues();
      const counts = await Promise.all(queues.map((queue) => this.broker.counts(queue)));
      this.#rows = queues.map((queue, i) => {
        const { pending, delayed, leased } = counts[i] ?? { pending: 0, delayed: 0, leased: 0 };
        return { queue, queued: pending, scheduled: delayed, running: leased };
      });
      this.#readAt = Date.now();
    } catch (error) {
      this.logger.debug({ err: error }, "could not read queue depth for /metrics; reporting the last read");
    }
    return this.#rows;
  }
}
