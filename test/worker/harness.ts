/** Starting a worker against a scripted peer, and waiting for its states. */
import { Worker, type WorkerOptions, type WorkerState } from "../../src/worker/index.js";
import { Gates, testTasks } from "./fixtures.js";
import type { PeerStream, ScriptedPeer } from "./scripted-peer.js";

/** Resolves once `worker` is in `state`. */
export function waitForState(worker: Worker, state: WorkerState): Promise<void> {
  if (worker.state === state) return Promise.resolve();
  return new Promise((resolve) => {
    const off = worker.onStateChange((next) => {
      if (next === state) {
        off();
        resolve();
      }
    });
  });
}

/** A worker connected to `peer`: Hello read, Welcome sent, first Grant read. */
export async function connectedWorker(peer: ScriptedPeer, options: Partial<WorkerOptions> = {}) {
  const gates = new Gates();
  const tasks = testTasks(gates);
  const worker = new Worker({ url: peer.url, tasks: tasks.all, concurrency: 2, ...options });
  const running = worker.run();
  // Keep the rejection observed; tests that expect one await `running` themselves.
  running.catch(() => undefined);
  const stream: PeerStream = await peer.nextStream();
  const hello = await stream.nextOf("hello");
  stream.welcome();
  const grant = await stream.nextOf("grant");
  return { worker, running, stream, hello, grant, gates, tasks };
}
