import { createTables } from "../../../src/process/schema";
import { memoryStore } from "./sqlite";

/** A memory store with a process object's tables, for the process's storage classes used on their own. */
export function processDb(): ReturnType<typeof memoryStore> {
  const store = memoryStore();
  createTables(store);
  return store;
}
