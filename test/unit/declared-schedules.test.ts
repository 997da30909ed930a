/**
 * Schedules a worker declares (`defineTask({ schedules })`): the SDK's declaration in Hello, the
 * server's reading of it (ids, the declaring type, bounds, fields named in refusals), the digest
 * that tells a changed declaration from the same one, and who may call ScheduleService.
 */
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { CatchUpPolicy, OverlapPolicy } from "../../gen/taskwire/v1/schedule_pb.js";
import { accessOf, roleAllows } from "../../src/server/auth/roles.js";
import { declarationHash } from "../../src/server/engine/scheduler.js";
import { declaredSchedules } from "../../src/server/rpc/schedule-convert.js";
import { buildHello, taskDeclaration } from "../../src/worker/hello.js";
import { defineTask } from "../../src/worker/index.js";

const identity = { workerId: "w", host: "h", pid: 1, queues: ["default"], slots: 1, burst: false };

function helloOf(schedules: Parameters<typeof defineTask<typeof StructSchema, typeof StructSchema>>[0]["schedules"]) {
  const task = defineTask({ name: "reports.generate", input: StructSchema, output: StructSchema, schedules }, async (input) => input);
  return buildHello(identity, [task], [taskDeclaration(task)]);
}

describe("declared schedules", () => {
  it("go in Hello with the task's name as the default id, and are read back by the server", () => {
    const hello = helloOf([
      { cron: "30 2 * * *", timeZone: "Europe/Vienna", input: { month: "current" }, overlap: "CANCEL_PREVIOUS" },
      { id: "reports.hourly", every: "1h", catchUp: "RUN_ALL", catchUpLimit: 5, labels: { team: "reports" } },
    ]);
    const [nightly, hourly] = hello.types[0]?.schedules ?? [];
    expect(nightly?.id).toBe("reports.generate");
    expect(nightly?.definition?.overlap).toBe(OverlapPolicy.CANCEL_PREVIOUS);
    expect(hourly?.definition?.catchUp).toBe(CatchUpPolicy.RUN_ALL);

    const read = declaredSchedules(hello);
    expect(read.map((d) => d.id)).toEqual(["reports.generate", "reports.hourly"]);
    expect(read[0]?.definition).toMatchObject({ type: "reports.generate", spec: { cron: "30 2 * * *", timeZone: "Europe/Vienna" }, overlap: "CANCEL_PREVIOUS", catchUp: "SKIP_MISSED" });
    expect(read[1]?.definition).toMatchObject({ spec: { intervalMs: 3_600_000 }, catchUp: "RUN_ALL", catchUpLimit: 5, overlap: "SKIP", options: { labels: { team: "reports" } } });
  });

  it("refuses mistakes in the SDK, and bad declarations on the server naming the field", () => {
    expect(() => helloOf([{ cron: "0 * * * *" }, { cron: "5 * * * *" }])).toThrow(/schedule id "reports.generate" is used twice/);
    expect(() => helloOf([{ cron: "0 * * * *", every: "1h" }])).toThrow(/either cron or every/);
    const hello = helloOf([{ cron: "0 * * * *" }]);
    const definition = hello.types[0]?.schedules[0]?.definition;
    if (!definition?.spec || !definition.task) throw new Error("no definition");
    definition.spec.timeZone = "Nowhere/City";
    expect(() => declaredSchedules(hello)).toThrow(/hello\.types\[0\]\.schedules\[0\]\.definition\.spec\.time_zone/);
    definition.spec.timeZone = "";
    definition.task.type = "other.type";
    expect(() => declaredSchedules(hello)).toThrow(/definition\.task\.type: must be empty or "reports.generate"/);
  });

  it("digest the same declaration the same way, whatever the order of its labels", () => {
    const [a] = declaredSchedules(helloOf([{ cron: "0 * * * *", labels: { x: "1", y: "2" } }]));
    const [b] = declaredSchedules(helloOf([{ cron: "0 * * * *", labels: { y: "2", x: "1" } }]));
    const [c] = declaredSchedules(helloOf([{ cron: "0 * * * *", labels: { x: "1", y: "3" } }]));
    if (!a || !b || !c) throw new Error("nothing declared");
    expect(declarationHash(a.definition)).toBe(declarationHash(b.definition));
    expect(declarationHash(a.definition)).not.toBe(declarationHash(c.definition));
  });
});

describe("ScheduleService access", () => {
  it("lets viewers and admins read, and only admins change", () => {
    const reads = ["GetSchedule", "ListSchedules"];
    const changes = ["CreateSchedule", "UpsertSchedule", "UpdateSchedule", "PauseSchedule", "ResumeSchedule", "TriggerSchedule", "DeleteSchedule"];
    for (const method of reads) {
      const access = accessOf("taskwire.v1.ScheduleService", method);
      expect([roleAllows("viewer", access), roleAllows("admin", access), roleAllows("client", access), roleAllows("worker", access)]).toEqual([true, true, false, false]);
    }
    for (const method of changes) {
      const access = accessOf("taskwire.v1.ScheduleService", method);
      expect([roleAllows("viewer", access), roleAllows("admin", access), roleAllows("client", access)]).toEqual([false, true, false]);
    }
  });
});
