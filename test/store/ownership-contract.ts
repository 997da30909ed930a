/**
 * Owners in a `TaskStore` (issue 15): task types claimed by a principal, all or none, with two
 * principals racing for one new type; an operator's transfer and reset; worker ids bound to the
 * first principal that connected with them, the binding kept by admin connections. Written
 * against the interface only: `describeStoreContract` registers it, so the PostgreSQL and the
 * PGlite store both run it.
 */
import { describe, expect, it } from "vitest";
import type { TaskStore } from "../../src/store/store.js";
import { at, worker } from "./fixtures.js";

/** Registers the suite; `freshStore` gives a migrated, empty store of the test's own. */
export function describeOwnershipContract(freshStore: () => Promise<TaskStore>): void {
  describe("task type owners", () => {
    it("claims types for a principal, all or none, and keeps them its", async () => {
      const store = await freshStore();
      expect(await store.claimTaskTypes(["a.one", "a.two"], "key:team-a", at(1))).toEqual([]);
      expect(await store.claimTaskTypes(["a.one"], "key:team-a", at(2))).toEqual([]);
      // One owned by another principal: refused, and the new one beside it is not claimed either.
      expect(await store.claimTaskTypes(["b.new", "a.two"], "group:b", at(3))).toEqual(["a.two"]);
      expect(await store.getTaskTypeOwners(["a.one", "a.two", "b.new", "never"])).toEqual(
        new Map([
          ["a.one", { owner: "key:team-a", contractReset: false }],
          ["a.two", { owner: "key:team-a", contractReset: false }],
        ]),
      );
    });

    it("gives a new type to exactly one of two principals claiming it at once", async () => {
      const store = await freshStore();
      const refused = await Promise.all([store.claimTaskTypes(["race.type"], "key:one", at(1)), store.claimTaskTypes(["race.type"], "key:two", at(1))]);
      expect(refused.map((names) => names.length).sort()).toEqual([0, 1]);
      const owner = (await store.getTaskTypeOwners(["race.type"])).get("race.type")?.owner;
      expect(owner).toBe(refused[0]?.length === 0 ? "key:one" : "key:two");
    });

    it("transfers and resets a type; the next claim takes a reset type and uses the reset up, an admin's (null) claims nothing", async () => {
      const store = await freshStore();
      await store.claimTaskTypes(["t.x"], "key:team-a", at(1));
      await store.setTaskTypeOwner("t.x", "group:gpu", false, at(2));
      expect(await store.claimTaskTypes(["t.x"], "key:team-a", at(3))).toEqual(["t.x"]);
      await store.setTaskTypeOwner("t.x", null, true, at(4));
      expect((await store.getTaskTypeOwners(["t.x"])).get("t.x")).toEqual({ owner: null, contractReset: true });
      // An admin key's declaration: no owner taken, the reset used up.
      expect(await store.claimTaskTypes(["t.x", "t.admin"], null, at(5))).toEqual([]);
      expect(await store.getTaskTypeOwners(["t.x", "t.admin"])).toEqual(
        new Map([
          ["t.x", { owner: null, contractReset: false }],
          ["t.admin", { owner: null, contractReset: false }],
        ]),
      );
      expect(await store.claimTaskTypes(["t.x"], "key:team-b", at(6))).toEqual([]);
      expect((await store.getTaskTypeOwners(["t.x"])).get("t.x")).toEqual({ owner: "key:team-b", contractReset: false });
    });
  });

  describe("worker id bindings", () => {
    it("binds an id to its first principal, refuses another, and leaves the binding to admin and unauthenticated connections", async () => {
      const store = await freshStore();
      expect(await store.workerOwner("w-1")).toBeUndefined();
      expect(await store.upsertWorker(worker("w-1"), "key:team-a")).toBe(true);
      expect(await store.workerOwner("w-1")).toBe("key:team-a");
      // Another principal: nothing written.
      expect(await store.upsertWorker(worker("w-1", { sessionId: "session-2", host: "other" }), "key:team-b")).toBe(false);
      expect(await store.getWorker("w-1")).toMatchObject({ host: "host-1", sessionId: "session-1" });
      // Its own principal again, and a connection without one (admin key, or authentication off).
      expect(await store.upsertWorker(worker("w-1", { sessionId: "session-3" }), "key:team-a")).toBe(true);
      expect(await store.upsertWorker(worker("w-1", { sessionId: "session-4", connectedAt: at(9) }))).toBe(true);
      expect(await store.workerOwner("w-1")).toBe("key:team-a");
      expect(await store.getWorker("w-1")).toMatchObject({ sessionId: "session-4" });
      // An id first used without a principal is bound by the next keyed connection.
      await store.upsertWorker(worker("w-2"));
      expect(await store.workerOwner("w-2")).toBeNull();
      expect(await store.upsertWorker(worker("w-2"), "group:gpu")).toBe(true);
      expect(await store.workerOwner("w-2")).toBe("group:gpu");
    });
  });
}
