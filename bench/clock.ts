/**
 * One clock for timestamps compared across processes (the bench and its worker processes).
 *
 * `performance.timeOrigin + performance.now()` is wall-clock time in milliseconds with
 * sub-millisecond resolution; every process derives it from the same system clock, so two
 * processes on one machine agree to within a few microseconds (plus NTP slew over the run,
 * parts per million). `Date.now()` would do too, but only to the millisecond, which is the
 * size of what the pickup-latency scenario measures.
 */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
