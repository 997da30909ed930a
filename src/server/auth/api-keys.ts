/**
 * API keys as the server knows them: an id, a role and the SHA-256 of the token, never the token
 * itself. This file makes tokens, hashes them, and reads the two ways keys are configured:
 *
 * - a keys file (`TASKWIRE_API_KEYS_FILE`), either lines `<id> <role> sha256:<hex> [group=<name>]`
 *   (blank lines and `#` comments allowed) or JSON: `{"keys": [{"id", "role", "hash":
 *   "sha256:<hex>", "group"}]}`, or the bare array;
 * - the environment (`TASKWIRE_API_KEYS`): `<id>:<role>:<hex>[:<group>]` entries separated by
 *   commas (`sha256:` before the hex is accepted too).
 *
 * A key may belong to a key group: the keys of one group own task types and worker ids together
 * (`ownership.ts`), so a team can run workers under several keys, or replace a key, and keep its
 * types.
 *
 * Keep in line with the README's "Security" section and `taskwire keys create`.
 */
import { createHash, randomBytes } from "node:crypto";
import { ConfigError } from "../../config/config.js";
import { isRole, ROLES, type Role } from "./roles.js";

/** One configured key. */
export interface ApiKey {
  /** Names the key in logs and owns the tasks it submits. */
  readonly id: string;
  readonly role: Role;
  /** SHA-256 of the token: 32 bytes. */
  readonly hash: Buffer;
  /** The key group it belongs to, if any: its keys own task types and worker ids together. */
  readonly group?: string;
}

/** Ids of keys: letters, digits and `_ . @ -`, at most 64 (no `:` `,` `/` or spaces, which the formats use). */
export const KEY_ID = /^[A-Za-z0-9_.@-]{1,64}$/;

/** The prefix of tokens made by {@link generateToken}, so secret scanners and people recognise them. */
export const TOKEN_PREFIX = "tw_";

/** A new random token: {@link TOKEN_PREFIX} and 32 random bytes in base64url (256 bits). */
export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

/** The SHA-256 of a token's UTF-8 bytes; always 32 bytes, whatever the token's length. */
export function hashToken(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/** Names of key groups: as key ids. */
export const KEY_GROUP = KEY_ID;

/** A key's line in a keys file: `<id> <role> sha256:<hex>`, and ` group=<name>` for a key of a group. */
export function keyFileLine(key: ApiKey): string {
  return `${key.id} ${key.role} sha256:${key.hash.toString("hex")}${key.group === undefined ? "" : ` group=${key.group}`}`;
}

/** A key's entry in `TASKWIRE_API_KEYS`: `<id>:<role>:<hex>`, and `:<group>` for a key of a group. */
export function keyEnvEntry(key: ApiKey): string {
  return `${key.id}:${key.role}:${key.hash.toString("hex")}${key.group === undefined ? "" : `:${key.group}`}`;
}

/**
 * Builds a key from its parts.
 * @param where names the place in error messages, like `TASKWIRE_API_KEYS_FILE (keys.txt) line 3`.
 * @throws ConfigError naming `where` and the bad part.
 */
export function apiKey(id: string, role: string, hash: string, where: string, group?: string): ApiKey {
  if (!KEY_ID.test(id)) throw new ConfigError(`${where}: key id "${id}" must be 1 to 64 of letters, digits and _ . @ -`);
  if (group !== undefined && !KEY_GROUP.test(group)) {
    throw new ConfigError(`${where}: key "${id}" names the group "${group}"; group names are 1 to 64 of letters, digits and _ . @ -`);
  }
  if (!isRole(role)) throw new ConfigError(`${where}: key "${id}" has role "${role}"; roles are ${ROLES.join(", ")}`);
  const hex = hash.startsWith("sha256:") ? hash.slice("sha256:".length) : hash;
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new ConfigError(`${where}: key "${id}" must give the SHA-256 of its token as 64 hex digits (sha256:<hex>), not the token`);
  }
  return { id, role, hash: Buffer.from(hex, "hex"), ...(group === undefined ? {} : { group }) };
}

/**
 * Reads a keys file's text: JSON when it starts with `{` or `[`, lines otherwise.
 * @param source names the file in error messages.
 */
export function parseKeysFile(text: string, source: string): ApiKey[] {
  const trimmed = text.trimStart();
  return trimmed.startsWith("{") || trimmed.startsWith("[") ? parseKeysJson(trimmed, source) : parseKeyLines(text, source);
}

function parseKeyLines(text: string, source: string): ApiKey[] {
  const keys: ApiKey[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (line === "") return;
    const where = `${source} line ${index + 1}`;
    const parts = line.split(/\s+/);
    const group = parts.length === 4 && parts[3]?.startsWith("group=") ? parts[3].slice("group=".length) : undefined;
    if (parts.length !== 3 && group === undefined) {
      throw new ConfigError(`${where}: expected "<id> <role> sha256:<hex>" and optionally "group=<name>", got ${parts.length} fields`);
    }
    const [id, role, hash] = parts as [string, string, string];
    keys.push(apiKey(id, role, hash, where, group));
  });
  return keys;
}

function parseKeysJson(text: string, source: string): ApiKey[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${source} is not valid JSON: ${(error as Error).message}`);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new ConfigError(`${source}: expected {"keys": [...]} or an array of keys`);
  return list.map((entry: unknown, index) => {
    const where = `${source} keys[${index}]`;
    const { id, role, hash, group } = (entry ?? {}) as Record<string, unknown>;
    if (typeof id !== "string" || typeof role !== "string" || typeof hash !== "string" || (group !== undefined && typeof group !== "string")) {
      throw new ConfigError(`${where}: expected {"id": string, "role": string, "hash": "sha256:<hex>"} and optionally "group": string`);
    }
    return apiKey(id, role, hash, where, group);
  });
}

/**
 * Reads `TASKWIRE_API_KEYS`: `<id>:<role>:<hex>[:<group>]` entries separated by commas.
 * @param source names the setting in error messages.
 */
export function parseKeysEnv(text: string, source: string): ApiKey[] {
  return text
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
    .map((entry, index) => {
      const where = `${source} entry ${index + 1}`;
      const [id, role, ...rest] = entry.split(":");
      // The hash may be written `sha256:<hex>`: that prefix is one more part.
      const hashParts = rest[0] === "sha256" ? 2 : 1;
      if (id === undefined || role === undefined || rest.length < hashParts || rest.length > hashParts + 1) {
        throw new ConfigError(`${where}: expected "<id>:<role>:<sha256 hex>" and optionally ":<group>"`);
      }
      return apiKey(id, role, rest.slice(0, hashParts).join(":"), where, rest[hashParts]);
    });
}
