export * from "./body";
export * from "./errors";
export * from "./routes";
