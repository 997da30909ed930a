/**
 * Data hooks: a call run when its inputs change and, for views without a stream, again every
 * few seconds while the tab is visible (hidden tabs cost the server nothing).
 */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { errorText } from "./api.js";

/** How often views without a stream refresh. */
export const REFRESH_MS = 5_000;

/** The state of a loaded value. */
export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  /** Loads again now (after an action). */
  reload: () => void;
}

/**
 * Runs `load` now, whenever `deps` change, and every `refreshMs` while the page is visible
 * (0: never again). Answers that come after a newer call started are dropped.
 */
export function usePoll<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[], refreshMs = REFRESH_MS): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const reload = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    setData(undefined);
    setError(undefined);
  }, deps);

  useEffect(() => {
    const controller = new AbortController();
    loadRef.current(controller.signal).then(
      (value) => {
        if (controller.signal.aborted) return;
        setData(value);
        setError(undefined);
      },
      (e: unknown) => {
        if (!controller.signal.aborted) setError(errorText(e));
      },
    );
    return () => controller.abort();
  }, [...deps, tick]);

  useEffect(() => {
    if (refreshMs <= 0) return;
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") reload();
    }, refreshMs);
    const onVisible = (): void => {
      if (document.visibilityState === "visible") reload();
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [refreshMs, reload]);

  return { data, error, reload };
}

/** The hash route: `#/tasks/abc?state=FAILED` → `{ path: ["tasks", "abc"], query }`. */
export interface Route {
  path: string[];
  query: URLSearchParams;
}

function readRoute(): Route {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path = "", search = ""] = hash.split("?", 2);
  return { path: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(search) };
}

/** The current hash route, updated on navigation. */
export function useRoute(): Route {
  const [route, setRoute] = useState(readRoute);
  useEffect(() => {
    const onChange = (): void => setRoute(readRoute());
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

/** A link target of a route: `href("tasks", id)` → `#/tasks/<id>`. */
export function href(...parts: string[]): string {
  return `#/${parts.map(encodeURIComponent).join("/")}`;
}
