/**
 * SIGINT/SIGTERM for the CLI (the only place that handles them): the first aborts the run's
 * signal, so commands shut down gracefully; a second one exits at once.
 */

/**
 * Installs the handlers.
 * @param forceExit Called on the second signal; must end the process.
 * @returns the signal the first SIGINT/SIGTERM aborts, and a function removing the handlers.
 */
export function installSignalHandlers(forceExit: (signal: NodeJS.Signals) => void): {
  signal: AbortSignal;
  dispose(): void;
} {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) forceExit(signal);
    else controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}
