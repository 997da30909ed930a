/**
 * `taskwire keys create <id> --role <role> [--group <name>]`: makes a new API key. The token is
 * printed once and never stored; the server is given only its SHA-256, as a line of the keys file
 * or an entry of `TASKWIRE_API_KEYS`. Keys of one group own task types and worker ids together.
 * Keep in line with the README's "Security" section.
 */
import { InvalidArgumentError, Option, type Command } from "commander";
import { generateToken, hashToken, KEY_GROUP, KEY_ID, keyEnvEntry, keyFileLine } from "../../server/auth/api-keys.js";
import { ROLES, type Role } from "../../server/auth/roles.js";
import type { CliContext } from "../context.js";
import { jsonLine } from "../format.js";

function keyIdArg(text: string): string {
  if (!KEY_ID.test(text)) throw new InvalidArgumentError("expected 1 to 64 of letters, digits and _ . @ -");
  return text;
}

function groupArg(text: string): string {
  if (!KEY_GROUP.test(text)) throw new InvalidArgumentError("expected 1 to 64 of letters, digits and _ . @ -");
  return text;
}

/** Adds `keys create` to `program`. */
export function registerKeysCommands(program: Command, ctx: CliContext): void {
  const keys = program.command("keys").description("manage API keys (no server needed)");
  keys
    .command("create")
    .description("make a new API key: prints its token once, and the line the server's keys file needs")
    .argument("<id>", "the key's id: names it in logs and owns the tasks it submits", keyIdArg)
    .addOption(new Option("-r, --role <role>", "client: submit, read and cancel its own tasks; worker: connect as a worker; viewer: read every task and the fleet; admin: everything").choices(ROLES).makeOptionMandatory())
    .option("-g, --group <name>", "a key group: its keys own task types and worker ids together (a team's workers under several keys, or a key replaced)", groupArg)
    .option("--json", "print id, role, group, token, keys-file line and environment entry as JSON")
    .addHelpText(
      "after",
      '\nAdd the line to the file of TASKWIRE_API_KEYS_FILE (or the entry to TASKWIRE_API_KEYS) and restart the server.\nCallers send the token as the header "authorization: Bearer <token>".',
    )
    .action((id: string, flags: { role: Role; group?: string; json?: boolean }) => {
      const token = generateToken();
      const key = { id, role: flags.role, hash: hashToken(token), ...(flags.group === undefined ? {} : { group: flags.group }) };
      if (flags.json) {
        ctx.stdout.write(jsonLine({ id, role: flags.role, group: flags.group ?? null, token, line: keyFileLine(key), env: keyEnvEntry(key) }));
        return;
      }
      ctx.stdout.write(`token:     ${token}\nkeys file: ${keyFileLine(key)}\nenv entry: ${keyEnvEntry(key)}\n`);
      ctx.stderr.write(
        'The token is shown only now: give it to the caller (header "authorization: Bearer <token>") and keep it secret.\n' +
          "The server stores only its SHA-256: add the keys-file line to TASKWIRE_API_KEYS_FILE (or the entry to TASKWIRE_API_KEYS).\n",
      );
    });
}
