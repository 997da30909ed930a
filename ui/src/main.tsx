/**
 * The Taskwire dashboard: sign-in (when the server checks API keys), the navigation, and the
 * screens, routed by the URL's hash (`#/tasks/<id>`), so every screen is served by `/` and no
 * path can meet an RPC's. See the README's "Dashboard" section.
 */
import { render } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { Code, ConnectError } from "@connectrpc/connect";
import type { GetCallerResponse } from "../../gen/taskwire/v1/admin_service_pb.js";
import { createClients, errorText, storedKey, storeKey } from "./api.js";
import { href, useRoute } from "./hooks.js";
import { OverviewScreen } from "./screens/overview.js";
import { QueuesScreen } from "./screens/queues.js";
import { SchedulesScreen } from "./screens/schedules.js";
import { TaskScreen } from "./screens/task.js";
import { TasksScreen } from "./screens/tasks.js";
import { TypeScreen, TypesScreen } from "./screens/types.js";
import { WorkersScreen } from "./screens/workers.js";
import { SessionContext, type Session } from "./session.js";
import "./styles.css";

const SCREENS = [
  ["", "Overview"],
  ["tasks", "Tasks"],
  ["workers", "Workers"],
  ["queues", "Queues"],
  ["schedules", "Schedules"],
  ["types", "Types"],
] as const;

function SignIn({ message, onKey }: { message: string | undefined; onKey: (key: string) => void }) {
  const [key, setKey] = useState("");
  return (
    <main class="sign-in" id="main">
      <form
        aria-labelledby="sign-in-title"
        onSubmit={(e) => {
          e.preventDefault();
          if (key.trim() !== "") onKey(key.trim());
        }}
      >
        <h1 id="sign-in-title">Taskwire</h1>
        <p>This server checks API keys. Sign in with a viewer key (read only) or an admin key.</p>
        {message && (
          <p class="error" role="alert">
            {message}
          </p>
        )}
        <label for="api-key">API key</label>
        <input id="api-key" type="password" autocomplete="off" spellcheck={false} value={key} onInput={(e) => setKey(e.currentTarget.value)} autofocus required />
        <button type="submit" class="primary">
          Sign in
        </button>
        <p class="muted">The key is kept for this browser tab only (session storage) and sent to this server alone.</p>
      </form>
    </main>
  );
}

function Screen() {
  const route = useRoute();
  const [first, second] = route.path;
  // After a navigation (not on the first load), focus moves to the new screen's heading, so
  // keyboard and screen-reader users start reading where the content changed.
  const navigated = useRef(false);
  useEffect(() => {
    if (navigated.current) document.getElementById("screen-title")?.focus({ preventScroll: true });
    navigated.current = true;
  }, [route.path.join("/")]);
  if (first === undefined) return <OverviewScreen />;
  if (first === "tasks") return second ? <TaskScreen id={second} key={second} /> : <TasksScreen route={route} />;
  if (first === "workers") return <WorkersScreen />;
  if (first === "queues") return <QueuesScreen />;
  if (first === "schedules") return <SchedulesScreen />;
  if (first === "types") return second ? <TypeScreen name={second} key={second} /> : <TypesScreen />;
  return <p>Nothing here. Go to the <a href={href()}>overview</a>.</p>;
}

function Shell({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const route = useRoute();
  const current = route.path[0] ?? "";
  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main" onClick={(e) => {
        e.preventDefault();
        document.getElementById("screen-title")?.focus();
      }}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href()}>
          Taskwire
        </a>
        <nav aria-label="screens">
          {SCREENS.map(([path, label]) => (
            <a key={path} href={path === "" ? href() : href(path)} aria-current={current === path ? "page" : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <div class="who" data-role={session.role || "open"}>
          {session.auth ? (
            <>
              <span title={`key ${session.keyId}`}>
                {session.keyId} ({session.role}
                {session.may("fleet.act") ? "" : ", read only"})
              </span>
              <button type="button" onClick={onSignOut}>
                Sign out
              </button>
            </>
          ) : (
            <span title="The server checks no API keys (loopback only)">no sign-in</span>
          )}
        </div>
      </header>
      <main id="main">
        <Screen />
      </main>
    </SessionContext.Provider>
  );
}

type Phase = { kind: "checking" } | { kind: "sign-in"; message?: string } | { kind: "failed"; message: string } | { kind: "in"; key: string | undefined; caller: GetCallerResponse };

function App() {
  const [phase, setPhase] = useState<Phase>({ kind: "checking" });
  const check = (key: string | undefined): void => {
    setPhase({ kind: "checking" });
    createClients(key)
      .admin.getCaller({})
      .then(
        (caller) => {
          if (key !== undefined) storeKey(key);
          setPhase({ kind: "in", key, caller });
        },
        (e: unknown) => {
          const code = ConnectError.from(e).code;
          if (code === Code.Unauthenticated) {
            storeKey(undefined);
            setPhase({ kind: "sign-in", message: key === undefined ? undefined : "The server knows no such key." });
          } else if (code === Code.PermissionDenied) {
            storeKey(undefined);
            setPhase({ kind: "sign-in", message: "This key cannot open the dashboard: sign in with a viewer or admin key." });
          } else setPhase({ kind: "failed", message: errorText(e) });
        },
      );
  };
  useEffect(() => check(storedKey()), []);
  const session = useMemo<Session | undefined>(() => {
    if (phase.kind !== "in") return undefined;
    const permissions = new Set(phase.caller.permissions);
    return { clients: createClients(phase.key), auth: phase.caller.auth, keyId: phase.caller.keyId, role: phase.caller.role, may: (p) => permissions.has(p) };
  }, [phase]);

  if (phase.kind === "checking") return <p class="loading">Connecting…</p>;
  if (phase.kind === "sign-in") return <SignIn message={phase.message} onKey={check} />;
  if (phase.kind === "failed")
    return (
      <main class="sign-in">
        <p class="error" role="alert">
          The server did not answer: {phase.message}
        </p>
        <button type="button" onClick={() => check(storedKey())}>
          Try again
        </button>
      </main>
    );
  return (
    <Shell
      session={session!}
      onSignOut={() => {
        storeKey(undefined);
        setPhase({ kind: "sign-in" });
      }}
    />
  );
}

render(<App />, document.getElementById("app")!);
