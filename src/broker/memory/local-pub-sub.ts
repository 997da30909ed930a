/**
 * Publish/subscribe inside one process, with the delivery rules of Redis pub/sub that the
 * broker's users rely on:
 * - delivery is asynchronous: a listener never runs inside `publish`, so a caller that holds
 *   state while publishing is not re-entered (listeners run from `setImmediate`, after the
 *   publishing call has returned and I/O has had its turn);
 * - messages arrive in the order they were published, across all channels (Redis sends them
 *   over one subscriber connection);
 * - a message goes to the listeners subscribed when it was published that are still
 *   subscribed when it is delivered: a listener never sees a message published before it
 *   subscribed, and never one delivered after its unsubscribe returned.
 */

/** One listener on one channel. */
interface Subscription<M> {
  readonly listener: (message: M) => void;
  active: boolean;
}

interface Delivery<M> {
  readonly channel: string;
  readonly message: M;
  readonly targets: readonly Subscription<M>[];
}

/** Publish/subscribe with asynchronous, ordered delivery; see the file header. */
export class LocalPubSub<M> {
  readonly #channels = new Map<string, Set<Subscription<M>>>();
  #outbox: Delivery<M>[] = [];
  #flush: NodeJS.Immediate | undefined;
  readonly #onListenerError: (error: unknown, channel: string) => void;

  /** @param onListenerError - receives what a listener throws; the other listeners still get the message. */
  constructor(onListenerError: (error: unknown, channel: string) => void) {
    this.#onListenerError = onListenerError;
  }

  /**
   * Adds a listener to `channel`. The same function subscribed twice is called twice.
   * @returns stops this subscription; safe to call twice.
   */
  subscribe(channel: string, listener: (message: M) => void): () => void {
    const subscription: Subscription<M> = { listener, active: true };
    let subscriptions = this.#channels.get(channel);
    if (subscriptions === undefined) {
      subscriptions = new Set();
      this.#channels.set(channel, subscriptions);
    }
    subscriptions.add(subscription);
    return () => {
      if (!subscription.active) return;
      subscription.active = false;
      const current = this.#channels.get(channel);
      current?.delete(subscription);
      if (current?.size === 0) this.#channels.delete(channel);
    };
  }

  /** Queues `message` for the current listeners of `channel`. @returns how many there are. */
  publish(channel: string, message: M): number {
    const subscriptions = this.#channels.get(channel);
    if (subscriptions === undefined) return 0;
    this.#outbox.push({ channel, message, targets: [...subscriptions] });
    this.#flush ??= setImmediate(() => this.#deliver());
    return subscriptions.size;
  }

  /** Drops every subscription and every message not delivered yet. */
  clear(): void {
    for (const subscriptions of this.#channels.values()) {
      for (const subscription of subscriptions) subscription.active = false;
    }
    this.#channels.clear();
    this.#outbox = [];
    if (this.#flush !== undefined) clearImmediate(this.#flush);
    this.#flush = undefined;
  }

  /** Delivers what was queued before this turn; what listeners publish now goes in the next one. */
  #deliver(): void {
    this.#flush = undefined;
    const batch = this.#outbox;
    this.#outbox = [];
    for (const { channel, message, targets } of batch) {
      for (const subscription of targets) {
        if (!subscription.active) continue;
        try {
          subscription.listener(message);
        } catch (error) {
          this.#onListenerError(error, channel);
        }
      }
    }
  }
}
