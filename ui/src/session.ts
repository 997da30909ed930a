/** The signed-in session: the clients (with the key) and what the key may do, for every screen. */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Clients } from "./api.js";

/** The session screens read. */
export interface Session {
  clients: Clients;
  /** Whether the server checks API keys. */
  auth: boolean;
  keyId: string;
  role: string;
  /** Whether the key has `permission` ("fleet.act", "tasks.submit", …). */
  may(permission: string): boolean;
}

export const SessionContext = createContext<Session | undefined>(undefined);

/** The session; only used below the signed-in app. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === undefined) throw new Error("useSession outside of the signed-in app");
  return session;
}
