/**
 * Delays between reconnection attempts: a bound growing from 100 ms, doubling to 10 s, and a
 * random delay between half the bound and the bound ("equal jitter"), so that the workers of a
 * server that went away do not all come back at the same instant.
 */

/** First delay bound. */
export const RECONNECT_INITIAL_MS = 100;
/** Largest delay bound. */
export const RECONNECT_MAX_MS = 10_000;

/** The delay before reconnection attempt number `failures` (0 after the first failure). */
export function reconnectDelay(failures: number, random: () => number = Math.random): number {
  const bound = Math.min(RECONNECT_MAX_MS, RECONNECT_INITIAL_MS * 2 ** Math.min(failures, 30));
  return Math.round(bound / 2 + (random() * bound) / 2);
}
