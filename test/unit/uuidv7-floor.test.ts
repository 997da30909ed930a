/** The reconciler's id bounds: the floor of a millisecond orders below every UUIDv7 of it and later, above every earlier one. */
import { describe, expect, it } from "vitest";
import { uuidv7 } from "uuidv7";
import { uuidv7Floor } from "../../src/server/duties/reconciler.js";

describe("uuidv7Floor", () => {
  it("bounds ids by their time, in PostgreSQL's (and string) order", () => {
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    expect(uuidv7Floor(before) <= id).toBe(true);
    expect(uuidv7Floor(after + 1) > id).toBe(true);
    expect(uuidv7Floor(0)).toBe("00000000-0000-0000-0000-000000000000");
    expect(uuidv7Floor(0x0123456789ab)).toBe("01234567-89ab-0000-0000-000000000000");
  });
});
