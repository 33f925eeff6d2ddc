export * from "./body";
export * from "./errors";
export * from "./observe";
export * from "./routes";
