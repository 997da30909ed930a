/**
 * API keys for tests of access control: fresh tokens with their keys-file lines and environment
 * entries, made with the same functions as `taskwire keys create`.
 */
import { writeFile } from "node:fs/promises";
import { generateToken, hashToken, keyEnvEntry, keyFileLine, type Role } from "../../src/server/auth/index.js";

/** A key as a test holds it: the token to send and what the server is given. */
export interface TestKey {
  id: string;
  role: Role;
  token: string;
  /** `{ authorization: "Bearer <token>" }` */
  headers: Record<string, string>;
  /** `<id> <role> sha256:<hex>` */
  line: string;
  /** `<id>:<role>:<hex>` */
  env: string;
}

/** A new key with a random token. */
export function testKey(id: string, role: Role): TestKey {
  const token = generateToken();
  const key = { id, role, hash: hashToken(token) };
  return { id, role, token, headers: { authorization: `Bearer ${token}` }, line: keyFileLine(key), env: keyEnvEntry(key) };
}

/** Writes `keys` as a keys file (lines format). */
export async function writeKeysFile(path: string, keys: readonly TestKey[]): Promise<string> {
  await writeFile(path, `# test keys\n${keys.map((key) => key.line).join("\n")}\n`);
  return path;
}
