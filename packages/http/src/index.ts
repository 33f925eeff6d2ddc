export * from "./api-markdown";
export * from "./body";
export * from "./errors";
export * from "./logging";
export * from "./matcher";
export * from "./observe";
export * from "./openapi";
export * from "./routes";
