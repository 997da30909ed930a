/**
 * `idleExitMs` against a scripted peer: the idle clock does not run while an attempt is held
 * (a task that runs longer than the limit is not cut short), restarts when the worker is idle
 * again, and then the worker drains (Draining, its stream ended) and `run()` resolves.
 */
import { afterEach, beforeEach, expect, it } from "vitest";
import type { Worker, WorkerState } from "../../src/worker/index.js";
import { assignment, json } from "./fixtures.js";
import { connectedWorker } from "./harness.js";
import { ScriptedPeer } from "./scripted-peer.js";

const IDLE_MS = 300;

let peer: ScriptedPeer;
let worker: Worker | undefined;

beforeEach(async () => {
  peer = await ScriptedPeer.start();
});

afterEach(async () => {
  await worker?.shutdown();
  worker = undefined;
  await peer.close();
});

it("does not stop while an attempt is held, then drains and stops once idle for the limit", async () => {
  const connected = await connectedWorker(peer, { idleExitMs: IDLE_MS });
  worker = connected.worker;
  const { stream, gates, running } = connected;
  const states: WorkerState[] = [];
  worker.onStateChange((state) => states.push(state));
  stream.send({ case: "assign", value: { tasks: [assignment("long", "test.gated", json({ id: "long" }))] } });
  await gates.started("long");
  // Held for three times the limit: the clock does not run while the worker holds an attempt.
  await new Promise((resolve) => setTimeout(resolve, 3 * IDLE_MS));
  expect(worker.state).toBe("RUNNING");
  gates.open("long");
  expect((await stream.nextOf("complete")).results.map((result) => result.taskId)).toEqual(["long"]);
  // Idle now: the clock restarts, and at the limit the worker drains and stops.
  let next = await stream.next();
  while (next.case === "grant" || next.case === "heartbeat") next = await stream.next(); // the freed slot
  expect(next.case).toBe("draining");
  await stream.requestsEnded;
  await running;
  expect(states).toEqual(["STOPPING", "STOPPED"]);
});
