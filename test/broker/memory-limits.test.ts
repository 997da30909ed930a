/** The limits and fairness contract on the in-process broker. */
import { MemoryBroker } from "../../src/broker/memory/memory-broker.js";
import { describeLimitsContract } from "./limits-contract.js";

describeLimitsContract("MemoryBroker", async () => {
  const broker = new MemoryBroker();
  return { broker, cleanup: () => broker.close() };
});
