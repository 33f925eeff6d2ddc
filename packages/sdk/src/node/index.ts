// @switchyard/sdk/node: everything the runtime-neutral entry has, plus what needs Node: the
// client that finds its server and login as `sy` does, the token file, device login that stores
// what it gets, and batch input files on disk. `@switchyard/sdk` itself resolves here
// everywhere but in a browser bundle.
export * from "../index";
export { type FirstRequest, peekBatchFile, withBatchModel } from "./batch-input";
export { Switchyard, type SwitchyardOptions } from "./client";
export { type DeviceLoginOptions, deviceLogin, type LoginResult } from "./device-login";
export { REFRESH_MARGIN_MS } from "./session";
export { defaultTokenPath, type StoredSession, type TokenFile, TokenStore } from "./token-store";
