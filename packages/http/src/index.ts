export * from "./body";
export * from "./errors";
export * from "./logging";
export * from "./observe";
export * from "./routes";
