export * from "./errors";
export * from "./common";
export * from "./agent";
export * from "./conversation";
export * from "./process";
export * from "./hooks";
export * from "./audit";
export * from "./tasks";
