import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { AuthService, accessGuard, createApiKey, createUser } from "@switchyard/auth";
import { AuthSchema, type SwitchyardConfigInput } from "@switchyard/core";
import { errorHandler, type RouteScope, RouteTable } from "@switchyard/http";
import express from "express";
// The scheduler's own test harness (a scheduler on PGlite with the local launcher and the manual
// clock): a test-only path into that package, as the server binary's path is.
import { type Harness, quiet, startHarness } from "../../../scheduler/test/harness";
import { registerModelRoutes } from "../../src";

export { type Harness, quiet, serverPid, until } from "../../../scheduler/test/harness";

export interface ViewsHarness {
  /** The scheduler, its database, config and clock. */
  h: Harness;
  auth: AuthService;
  url: string;
  /** A user with these groups and their access token. */
  user(
    username: string,
    role: "user" | "admin",
    groups?: string[],
  ): Promise<{ id: string; token: string; key(scopes: RouteScope[]): Promise<string> }>;
  /** GET with an optional bearer credential: status, text and the parsed body. */
  get(path: string, credential?: string): Promise<{ status: number; text: string; body: any }>;
  close(): Promise<void>;
}

/**
 * The gateway's model and jobs routes over real HTTP with the route table's access guard, in
 * front of a scheduler of the given catalogue; `ready` runs before the server listens (start
 * models, wait for them).
 */
export async function startViewsHarness(
  overrides: Partial<SwitchyardConfigInput>,
  ready: (h: Harness) => Promise<void> = async () => {},
): Promise<ViewsHarness> {
  const h = await startHarness("local", overrides);
  let auth: AuthService | undefined;
  let server: Server | undefined;
  try {
    await ready(h);
    const service = await AuthService.create({
      db: h.db.prisma,
      settings: AuthSchema.parse({}),
      clock: { now: () => Date.now() },
      logger: quiet,
      issuer: () => "http://switchyard.test",
    });
    auth = service;
    const app = express();
    const router = express.Router();
    registerModelRoutes(router, new RouteTable(accessGuard(service)), {
      config: h.config,
      scheduler: h.scheduler,
      db: h.db,
    });
    app.use(router);
    app.use(errorHandler(quiet));
    const listening = createServer(app);
    server = listening;
    await new Promise<void>((resolve) => listening.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
    return {
      h,
      auth: service,
      url,
      async user(username, role, groups = []) {
        const user = await createUser(h.db.prisma, { username, password: `${username}-password-1`, role, groups });
        const tokens = await service.issueTokens(user.id, { clientId: "test", scope: "", authTime: new Date() });
        return {
          id: user.id,
          token: tokens.access_token,
          key: async (scopes) => (await createApiKey(h.db.prisma, { userId: user.id, scopes })).key,
        };
      },
      async get(path, credential) {
        const res = await fetch(
          `${url}${path}`,
          credential ? { headers: { authorization: `Bearer ${credential}` } } : {},
        );
        const text = await res.text();
        return { status: res.status, text, body: JSON.parse(text) };
      },
      async close() {
        await new Promise((resolve) => listening.close(resolve));
        await service.close();
        await h.close();
      },
    };
  } catch (error) {
    if (server) await new Promise((resolve) => server?.close(resolve));
    await auth?.close();
    await h.close();
    throw error;
  }
}
