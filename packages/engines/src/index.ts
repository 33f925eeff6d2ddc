export * from "./adapters";
export * from "./simulator";
