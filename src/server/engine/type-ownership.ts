/**
 * Task types belong to the API key, or key group, that first declared them (issue 15: another
 * team's worker key must not receive a client's inputs, forge outputs, or change a type's
 * contract and defaults for everyone). Before a Hello's types reach the catalog:
 *
 * - a type owned by another principal is refused (`PERMISSION_DENIED`, `TASK_TYPE_OWNED`): the
 *   whole Hello, so that a worker never serves half of what it declared;
 * - a declaration that changes a known type's contract incompatibly (its input or output message
 *   is another one, or a field of either, or of a message they hold, changed its type or
 *   cardinality) is refused (`FAILED_PRECONDITION`, `TASK_TYPE_CONTRACT_CHANGED`) unless an
 *   operator reset the type (`AdminService.ResetTaskType`): queued tasks and waiting clients rely
 *   on it. Added and removed fields are compatible;
 * - the types are claimed for the declarer's principal, atomically with other servers.
 *
 * Admin keys may declare any type and claim none. With authentication off, declarations are
 * accepted as before (the last one wins) and a contract change is logged as a warning.
 * Keep in line with the README's "Security" section.
 */
import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { FailedPreconditionError, NotFoundError, PermissionDeniedError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import type { TaskTypeRecord } from "../../core/task-types.js";
import type { TaskStore } from "../../store/store.js";
import { resolveDescriptors, type Catalog } from "./catalog.js";

/** Who declares types: nobody known (authentication off), an admin key, or any other key with its principal. */
export type Declarer = { kind: "anyone" } | { kind: "admin"; keyId: string } | { kind: "key"; keyId: string; principal: string };

/** A declared type as `parseHello` makes it. */
export type DeclaredType = Omit<TaskTypeRecord, "updatedAt">;

/** How a declaration changes a known type's contract incompatibly; undefined when it does not. */
export function contractChange(
  before: { input: DescMessage; output: DescMessage },
  after: { input: DescMessage; output: DescMessage },
): string | undefined {
  for (const role of ["input", "output"] as const) {
    const was = before[role];
    const is = after[role];
    if (was.typeName !== is.typeName) return `its ${role} type was ${was.typeName}, the declaration says ${is.typeName}`;
    const field = changedField(was, is, new Set());
    if (field !== undefined) return `${role} ${field}`;
  }
  return undefined;
}

/** The first field of `was` whose number means something else in `is` (recursively), described. */
function changedField(was: DescMessage, is: DescMessage, seen: Set<string>): string | undefined {
  if (seen.has(was.typeName)) return undefined;
  seen.add(was.typeName);
  for (const old of was.fields) {
    const now = is.fields.find((field) => field.number === old.number);
    if (now === undefined) continue; // removed: old values are skipped as unknown fields
    const oldKind = kindOf(old);
    const newKind = kindOf(now);
    if (oldKind !== newKind) return `field ${was.typeName}.${old.name} (${old.number}) was ${oldKind}, now ${newKind}`;
    const oldMessage = messageOf(old);
    const newMessage = messageOf(now);
    if (oldMessage && newMessage) {
      const nested = changedField(oldMessage, newMessage, seen);
      if (nested !== undefined) return nested;
    }
  }
  return undefined;
}

function messageOf(field: DescField): DescMessage | undefined {
  return field.message ?? undefined;
}

/** A field's type and cardinality as text, like `repeated int32` or `map<string, message a.B>`. */
function kindOf(field: DescField): string {
  const element = (): string => {
    if (field.message) return `message ${field.message.typeName}`;
    if (field.enum) return `enum ${field.enum.typeName}`;
    return scalarName(field.scalar);
  };
  switch (field.fieldKind) {
    case "list":
      return `repeated ${element()}`;
    case "map":
      return `map<${scalarName(field.mapKey)}, ${element()}>`;
    default:
      return element();
  }
}

/** A scalar type as in a .proto file: `int32`, `string`… */
function scalarName(type: ScalarType | undefined): string {
  return type === undefined ? "unknown" : (ScalarType[type]?.toLowerCase() ?? String(type));
}

/** Checks and claims declarations; see the file header. */
export class TypeOwnership {
  constructor(
    private readonly store: TaskStore,
    private readonly catalog: Catalog,
    private readonly logger: Logger,
  ) {}

  /**
   * Admits `types` declared by `declarer`, claiming them when it is a key other than an admin's.
   * @throws PermissionDeniedError (`TASK_TYPE_OWNED`) when another principal owns one of them;
   *   FailedPreconditionError (`TASK_TYPE_CONTRACT_CHANGED`) when one changes its contract
   *   incompatibly and was not reset; UnavailableError when PostgreSQL cannot be reached.
   */
  async admit(types: readonly DeclaredType[], declarer: Declarer, now: Date): Promise<void> {
    if (types.length === 0) return;
    const names = types.map((type) => type.name);
    const owners = declarer.kind === "anyone" ? new Map() : await this.store.getTaskTypeOwners(names);
    if (declarer.kind === "key") {
      const taken = names.filter((name) => {
        const owner = owners.get(name)?.owner;
        return owner !== undefined && owner !== null && owner !== declarer.principal;
      });
      if (taken.length > 0) throw this.owned(taken, declarer);
    }
    const changes = await Promise.all(types.map((type) => this.changeOf(type)));
    for (const [index, type] of types.entries()) {
      const change = changes[index];
      if (change === undefined) continue;
      if (declarer.kind === "anyone") {
        this.logger.warn({ type: type.name, change }, "task type contract changed by a declaration (authentication is off: accepted)");
      } else if (owners.get(type.name)?.contractReset !== true) {
        this.logger.info({ type: type.name, keyId: declarer.keyId, change }, "declaration refused: it changes the task type's contract");
        throw new FailedPreconditionError(
          "TASK_TYPE_CONTRACT_CHANGED",
          `task type "${type.name}" cannot change its contract: ${change}; queued tasks and their clients rely on it. ` +
            `Declare it under a new name, or have an operator reset it first (taskwire types reset ${type.name})`,
        );
      } else {
        this.logger.warn({ type: type.name, keyId: declarer.keyId, change }, "task type contract changed after an operator's reset");
      }
    }
    if (declarer.kind === "anyone") return;
    const refused = await this.store.claimTaskTypes(names, declarer.kind === "key" ? declarer.principal : null, now);
    if (refused.length > 0) throw this.owned(refused, declarer as Extract<Declarer, { kind: "key" }>);
  }

  /** How `type` changes the contract of the type of its name as the catalog knows it. */
  private async changeOf(type: DeclaredType): Promise<string | undefined> {
    let known;
    try {
      known = await this.catalog.get(type.name);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined; // a new type
      if (error instanceof Error && error.name === "InvalidArgumentError") return undefined; // its stored set no longer resolves: replace it
      throw error;
    }
    return contractChange(known, resolveDescriptors(type));
  }

  private owned(names: readonly string[], declarer: Extract<Declarer, { kind: "key" }>): PermissionDeniedError {
    this.logger.warn({ types: names.slice(0, 20), keyId: declarer.keyId, principal: declarer.principal }, "declaration refused: task types owned by another key");
    const list = names.slice(0, 5).map((name) => `"${name}"`).join(", ") + (names.length > 5 ? ` and ${names.length - 5} more` : "");
    return new PermissionDeniedError(
      "TASK_TYPE_OWNED",
      `task type${names.length === 1 ? "" : "s"} ${list} belong${names.length === 1 ? "s" : ""} to another API key (or key group) than "${declarer.keyId}"; ` +
        "an operator may transfer a type (taskwire types transfer)",
    );
  }
}
