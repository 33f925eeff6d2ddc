import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { homedir, hostname } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import {
  defaultTokenPath,
  normalizeServer,
  type StoredSession,
  Switchyard,
  TokenStore,
  TokenStoreError,
} from "../src/node";
import { freshHome, removeTempDirs } from "./harness";

function session(username: string, n = 0): StoredSession {
  return {
    username,
    user_id: `usr_${username}`,
    access_token: `access-${username}-${n}`,
    refresh_token: `syr_${username}-${n}`,
    expires_at: new Date(Date.now() + 3600_000).toISOString(),
    logged_in_at: new Date().toISOString(),
    refreshed_at: null,
    client_id: "sy-cli",
  };
}

describe("the token store", () => {
  afterAll(removeTempDirs);

  it("lives in $XDG_CONFIG_HOME/switchyard, else ~/.config/switchyard", () => {
    expect(defaultTokenPath({ XDG_CONFIG_HOME: "/srv/conf" })).toBe("/srv/conf/switchyard/tokens.json");
    expect(defaultTokenPath({})).toBe(path.join(homedir(), ".config", "switchyard", "tokens.json"));
    // The XDG spec says a relative value is to be ignored.
    expect(defaultTokenPath({ XDG_CONFIG_HOME: "relative/dir" })).toBe(
      path.join(homedir(), ".config", "switchyard", "tokens.json"),
    );
  });

  it("writes one entry per server, mode 0600 in a 0700 directory, leaving no temporary files", async () => {
    const { tokenFile } = freshHome();
    const store = new TokenStore(tokenFile);
    expect(store.read()).toEqual({ version: 1, default_server: null, servers: {} });
    await store.update((file) => {
      file.servers["http://a:8080"] = session("ada");
      file.default_server = "http://a:8080";
    });
    await store.update((file) => {
      file.servers["http://b:8080"] = session("grace");
    });
    await store.update((file) => {
      file.servers["http://a:8080"] = session("ada", 1);
    });
    const file = JSON.parse(readFileSync(tokenFile, "utf8"));
    expect(Object.keys(file.servers)).toEqual(["http://a:8080", "http://b:8080"]);
    expect(file.servers["http://a:8080"].access_token).toBe("access-ada-1");
    expect(file.default_server).toBe("http://a:8080");
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(tokenFile)).mode & 0o777).toBe(0o700);
    expect(readdirSync(path.dirname(tokenFile))).toEqual(["tokens.json"]);
  });

  it("loses no update when many writers race (the lock serialises them)", async () => {
    const { tokenFile } = freshHome();
    const writers = Array.from({ length: 4 }, () => new TokenStore(tokenFile));
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        writers[i % 4]!.update(async (file) => {
          await new Promise((r) => setTimeout(r, Math.random() * 3));
          file.servers[`http://host-${i}:8080`] = session(`user${i}`);
        }),
      ),
    );
    expect(Object.keys(new TokenStore(tokenFile).read().servers)).toHaveLength(40);
    expect(readdirSync(path.dirname(tokenFile))).toEqual(["tokens.json"]);
  });

  it("waits for a live holder past the stale time, and takes the lock over once the holder is killed", async () => {
    const { tokenFile } = freshHome();
    // Another process holds the lock (as a `sy` refreshing does) and keeps it fresh.
    const holder = spawn(
      process.execPath,
      [
        "--import",
        pathToFileURL(path.resolve(import.meta.dirname, "../../../tooling/typescript/source.mjs")).href,
        "--input-type=module",
        "-e",
        `const { TokenStore } = await import(${JSON.stringify(path.resolve(import.meta.dirname, "../src/node/token-store.ts"))});
         await new TokenStore(${JSON.stringify(tokenFile)}).withLock(() => { console.log("locked"); return new Promise(() => setInterval(() => {}, 1000)); });`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("locked") && resolve());
        holder.once("exit", (code) => reject(new Error(`the holder exited (${code})`)));
      });
      expect(statSync(`${tokenFile}.lock`).isDirectory()).toBe(true);
      let done = 0;
      const started = Date.now();
      const update = new TokenStore(tokenFile)
        .update((file) => {
          file.servers["http://a:8080"] = session("ada");
        })
        .then(() => {
          done = Date.now();
        });
      await new Promise((r) => setTimeout(r, 12_000)); // past the 10 s after which an untouched lock is stale
      expect(done).toBe(0);
      holder.kill("SIGKILL"); // no exit handler runs: the lock stays behind, untouched from now on
      const killed = Date.now();
      await update;
      expect(done - killed).toBeLessThan(12_000);
      expect(done - started).toBeGreaterThan(12_000);
      expect(Object.keys(new TokenStore(tokenFile).read().servers)).toEqual(["http://a:8080"]);
      expect(readdirSync(path.dirname(tokenFile))).toEqual(["tokens.json"]);
    } finally {
      holder.kill("SIGKILL");
    }
  }, 40_000);

  it("takes over a stale pid@host lock file of an older sy or switchyard_auth.py, and waits while one is fresh", async () => {
    const { tokenFile } = freshHome();
    mkdirSync(path.dirname(tokenFile), { recursive: true });
    const lock = `${tokenFile}.lock`;
    writeFileSync(lock, `4194305@${hostname()}\n`);
    const minuteAgo = new Date(Date.now() - 60_000);
    utimesSync(lock, minuteAgo, minuteAgo);
    const started = Date.now();
    await new TokenStore(tokenFile).update((file) => {
      file.servers["http://a:8080"] = session("ada");
    });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(readdirSync(path.dirname(tokenFile))).toEqual(["tokens.json"]);

    // A fresh one (its holder is refreshing) is waited for, and then named with the fix.
    writeFileSync(lock, `${process.pid}@${hostname()}\n`);
    const error = await new TokenStore(tokenFile, { lockWaitMs: 1500 }).update(() => {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenStoreError);
    expect((error as Error).message).toContain(`stays locked by another sy or switchyard_auth.py process`);
    expect((error as Error).message).toContain(`Fix: if none is running, delete ${lock} (rm -r ${lock}).`);
  });

  it("explains a damaged file with its path and the fix, and never guesses", () => {
    const { tokenFile } = freshHome();
    mkdirSync(path.dirname(tokenFile), { recursive: true });
    const cases: [string, RegExp][] = [
      ["{not json", /is not valid JSON/],
      ["[]", /is damaged: it does not hold a JSON object/],
      ['{"version": 7, "servers": {}}', /unknown version/],
      ['{"version": 1, "default_server": null, "servers": {"http://a": {"username": "ada"}}}', /field 'user_id'/],
    ];
    for (const [text, problem] of cases) {
      writeFileSync(tokenFile, text);
      const error = (() => {
        try {
          new TokenStore(tokenFile).read();
        } catch (e) {
          return e;
        }
      })();
      expect(error, text).toBeInstanceOf(TokenStoreError);
      expect((error as Error).message).toMatch(problem);
      expect((error as Error).message).toContain(tokenFile);
      expect((error as Error).message).toContain("sy login --force");
    }
  });

  it("is not needed by a client that has an API key, even when it is damaged", () => {
    const { tokenFile } = freshHome();
    mkdirSync(path.dirname(tokenFile), { recursive: true });
    writeFileSync(tokenFile, "garbage");
    const client = new Switchyard({ apiKey: "sy_x", tokenStore: tokenFile, env: {} });
    expect(client.baseURL).toBe("http://127.0.0.1:8080");
    expect(() => new Switchyard({ tokenStore: tokenFile, env: {} })).toThrow(TokenStoreError);
  });
});

describe("server URLs", () => {
  it("name one server however they are spelled", () => {
    expect(normalizeServer("http://127.0.0.1:8080/")).toBe("http://127.0.0.1:8080");
    expect(normalizeServer("http://127.0.0.1:8080/v1")).toBe("http://127.0.0.1:8080");
    expect(normalizeServer("HTTP://Example.ORG/switchyard/v1/")).toBe("http://example.org/switchyard");
    expect(normalizeServer("127.0.0.1:9000")).toBe("http://127.0.0.1:9000");
    expect(() => normalizeServer("ftp://x")).toThrow(/not an http\(s\) URL/);
  });
});
