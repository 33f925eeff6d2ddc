import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { accessGuard } from "@switchyard/auth";
import { errorHandler, notFound, RouteTable } from "@switchyard/http";
import express from "express";
import { registerControlPlaneRoutes } from "../../src";
import { type Harness, quiet } from "../harness";

/** The control plane on a real HTTP server (port 0), mounted as `serve` mounts it. */
export async function serveControlPlane(h: Harness): Promise<{ url: string; close(): Promise<void> }> {
  const app = express();
  app.set("query parser", "simple");
  const router = express.Router();
  const routes = new RouteTable(accessGuard(h.deps.auth));
  registerControlPlaneRoutes(router, routes, h.deps);
  app.use(router);
  app.use(notFound(routes));
  app.use(errorHandler(quiet));
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A tRPC event stream as a browser's EventSource opens it: the credential in connectionParams. */
export class EventStream {
  private text = "";
  private finished = false;
  private readonly controller = new AbortController();
  private reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  private pending: Promise<void> | undefined;

  private constructor(readonly status: number) {}

  static async open(url: string, credential: string): Promise<EventStream> {
    const params = encodeURIComponent(JSON.stringify({ token: credential }));
    const stream = new EventStream(0);
    const res = await fetch(`${url}/trpc/events.deployments?connectionParams=${params}`, {
      headers: { accept: "text/event-stream" },
      signal: stream.controller.signal,
    });
    Object.assign(stream, { status: res.status });
    stream.reader = res.body?.getReader();
    return stream;
  }

  /** Everything received so far. */
  get received(): string {
    return this.text;
  }

  get ended(): boolean {
    return this.finished;
  }

  /** Read until `done(text)` holds, the stream ends, or `ms` pass; says whether `done` held. */
  async readUntil(done: (text: string) => boolean, ms = 10_000): Promise<boolean> {
    const decoder = new TextDecoder();
    const deadline = Date.now() + ms;
    while (!done(this.text) && !this.finished && Date.now() < deadline) {
      this.pending ??= this.reader!.read().then(
        ({ value, done: end }) => {
          if (value) this.text += decoder.decode(value, { stream: true });
          if (end) this.finished = true;
          this.pending = undefined;
        },
        () => {
          this.finished = true;
          this.pending = undefined;
        },
      );
      await Promise.race([this.pending, new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))]);
    }
    return done(this.text);
  }

  close(): void {
    this.controller.abort();
  }
}
