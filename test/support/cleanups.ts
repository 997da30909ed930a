/**
 * Clean-ups a test registers as it creates things (stores, brokers, servers), run after each
 * test, newest first, so that what was made last (and may use what came before) goes first.
 */
import { afterEach } from "vitest";

/** Call inside a `describe` (or at top level); push clean-ups onto the returned list. */
export function cleanupsAfterEach(): (() => Promise<void>)[] {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return cleanups;
}
