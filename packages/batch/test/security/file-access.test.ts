import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, mkdirSync, readdirSync, statSync, symlinkSync } from "node:fs";
import path from "node:path";
import { SwitchyardError } from "@switchyard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lookupAccount } from "../../src/access";
import { type Harness, startHarness, until, writeInput } from "./harness";

// Batch paths authorised per user (`batch.fileAccess`), with real system accounts: `alice`
// owns files, `bob` submits batches. Creating accounts needs root (CI runs as root).
const isRoot = process.getuid?.() === 0;
const required = process.env.SWITCHYARD_REQUIRE_SERVICES === "1";
const skipReason = "the fileAccess tests create system users with useradd and need root";
if (!isRoot) {
  if (required) throw new Error(`${skipReason}; SWITCHYARD_REQUIRE_SERVICES=1 forbids skipping`);
  console.warn(`packages/batch/test/security/file-access.test.ts: skipped: ${skipReason}`);
}

const tag = randomBytes(3).toString("hex");
const ALICE = `sya${tag}`;
const BOB = `syb${tag}`;
const PROJECT = `syp${tag}`;
const created: { users: string[]; groups: string[] } = { users: [], groups: [] };

function sh(command: string, ...args: string[]): void {
  execFileSync(command, args, { stdio: "pipe" });
}

async function refusal(promise: Promise<unknown>): Promise<SwitchyardError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SwitchyardError);
    return error as SwitchyardError;
  }
  throw new Error("expected a refusal");
}

describe.skipIf(!isRoot)("batch.fileAccess with real system accounts", () => {
  let uid: { alice: number; bob: number };
  let gid: number;
  beforeAll(() => {
    sh("groupadd", PROJECT);
    created.groups.push(PROJECT);
    for (const name of [ALICE, BOB]) {
      sh("useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--groups", PROJECT, name);
      created.users.push(name);
    }
    const id = (name: string, flag: string) => Number(execFileSync("id", [flag, name], { encoding: "utf8" }).trim());
    uid = { alice: id(ALICE, "-u"), bob: id(BOB, "-u") };
    gid = Number(execFileSync("getent", ["group", PROJECT], { encoding: "utf8" }).split(":")[2]);
  });
  afterAll(() => {
    for (const name of created.users) execFileSync("userdel", [name], { stdio: "ignore" });
    for (const name of created.groups) execFileSync("groupdel", [name], { stdio: "ignore" });
  });

  /** alice's private folder (0755) with a 0600 input, and the project's group space (2770). */
  function layout(h: Harness) {
    const home = path.join(h.projects, ALICE);
    mkdirSync(home, { mode: 0o755 });
    chownSync(home, uid.alice, uid.alice);
    const secret = writeInput(path.join(home, "private.jsonl"), 2, 0o600);
    chownSync(secret, uid.alice, uid.alice);
    const project = path.join(h.projects, "proj");
    mkdirSync(project);
    chownSync(project, 0, gid);
    chmodSync(project, 0o2770);
    const shared = writeInput(path.join(project, "prompts.jsonl"), 2, 0o640);
    chownSync(shared, uid.alice, gid);
    return { home, secret, project, shared };
  }

  describe("posix", () => {
    let h: Harness;
    let paths: ReturnType<typeof layout>;
    beforeAll(async () => {
      h = await startHarness({ username: BOB, extraConfig: "  fileAccess: posix" });
      paths = layout(h);
    });
    afterAll(async () => h?.close());

    it("resolves a user's account, uid and groups from the system's user database", async () => {
      const account = await lookupAccount(BOB);
      expect(account).toMatchObject({ name: BOB, uid: uid.bob });
      expect(account?.gids).toContain(gid);
      expect(await lookupAccount(`nobody-${tag}`)).toBeUndefined();
    });

    it("another user's 0600 file is refused, named directly or through a symlink, without its content", async () => {
      const direct = await refusal(h.create(paths.secret, paths.project));
      expect([direct.code, direct.status]).toEqual(["path_access_denied", 403]);
      expect(direct.message).toContain(`cannot be read by your account '${BOB}'`);
      expect(direct.message).not.toContain("req-");
      const link = path.join(paths.project, "steal.jsonl");
      symlinkSync(paths.secret, link);
      const viaLink = await refusal(h.create(link, paths.project));
      expect([viaLink.code, viaLink.status]).toEqual(["invalid_path", 400]);
      expect(viaLink.message).toMatch(/is a symbolic link/);
    });

    it("a user cannot write into another user's folder in posix mode", async () => {
      const error = await refusal(h.create(paths.shared, paths.home));
      expect([error.code, error.status, error.param]).toEqual(["path_access_denied", 403, "output_folder_path"]);
      const nested = await refusal(h.create(paths.shared, path.join(paths.home, "new", "deeper")));
      expect(nested.code).toBe("path_access_denied");
      expect(readdirSync(paths.home)).toEqual(["private.jsonl"]);
    });

    it("the guide's workflow works: input and output folder in the project's group space", async () => {
      const batch = await h.create(paths.shared, path.join(paths.project, "results"));
      expect(batch.results.startsWith(path.join(paths.project, "results"))).toBe(true);
      expect(statSync(path.join(paths.project, "results")).isDirectory()).toBe(true);
    });
  });

  describe("posix, reading the results", () => {
    let h: Harness;
    let paths: ReturnType<typeof layout>;
    beforeAll(async () => {
      h = await startHarness({ username: BOB, extraConfig: "  fileAccess: posix" });
      paths = layout(h);
    });
    afterAll(async () => h?.close());

    it("a project member reads the results the service wrote into a project folder that is not set-group-id", async () => {
      const folder = path.join(h.projects, "proj-plain");
      mkdirSync(folder);
      chownSync(folder, 0, gid);
      chmodSync(folder, 0o770);
      const batch = await h.create(paths.shared, folder);
      const run = h.run(batch.id);
      try {
        await until(async () => (await h.batch(batch.id)).fileRefs?.results !== undefined);
      } finally {
        await run.stop();
      }
      expect(statSync(batch.dir).gid).toBe(gid);
      expect(statSync(batch.dir).mode & 0o2000).toBe(0o2000);
      expect(statSync(batch.results)).toMatchObject({ gid });
      expect(statSync(batch.results).mode & 0o777).toBe(0o640);
      // alice is in the project, not the service's group: she can read what bob's batch wrote
      // (the harness's temporary root is 0700: let her through it as a real filesystem would).
      chmodSync(h.root, 0o755);
      expect(() => execFileSync("runuser", ["-u", ALICE, "--", "cat", batch.results], { stdio: "pipe" })).not.toThrow();
    });
  });

  describe("posix, a user without a system account", () => {
    it("is refused for every path", async () => {
      const h = await startHarness({ username: `ghost-${tag}`, extraConfig: "  fileAccess: posix" });
      try {
        const input = writeInput(path.join(h.projects, "open.jsonl"));
        const error = await refusal(h.create(input));
        expect([error.code, error.status]).toEqual(["path_access_denied", 403]);
        expect(error.message).toMatch(/no system account/);
      } finally {
        await h.close();
      }
    });

    it("a user named like root or a system account does not get that account's rights", async () => {
      // An identity provider may let a user choose the name 'root' (or 'daemon').
      for (const name of ["root", "daemon"]) {
        const h = await startHarness({ username: name, extraConfig: "  fileAccess: posix" });
        try {
          const secret = writeInput(path.join(h.outside, "..", "projects", `${name}-secret.jsonl`), 2, 0o600);
          const error = await refusal(h.create(secret));
          expect([error.code, error.status]).toEqual(["path_access_denied", 403]);
          expect(error.message).toMatch(/is a system account/);
        } finally {
          await h.close();
        }
      }
    });
  });

  describe("world", () => {
    let h: Harness;
    let paths: ReturnType<typeof layout>;
    beforeAll(async () => {
      h = await startHarness({ username: BOB, extraConfig: "  fileAccess: world" });
      paths = layout(h);
    });
    afterAll(async () => h?.close());

    it("world mode refuses a non-world-readable input", async () => {
      const error = await refusal(h.create(paths.shared));
      expect([error.code, error.status]).toEqual(["path_access_denied", 403]);
      expect(error.message).toMatch(/not world-readable/);
    });

    it("world mode writes only into the user's own folder, which the service creates", async () => {
      const open = writeInput(path.join(h.projects, "open.jsonl"), 2, 0o644);
      const elsewhere = await refusal(h.create(open, path.join(h.projects, ALICE)));
      expect(elsewhere.code).toBe("path_access_denied");
      const batch = await h.create(open);
      const own = path.join(h.projects, BOB);
      expect(path.dirname(batch.dir)).toBe(own);
      expect(statSync(own).uid).toBe(process.getuid?.());
      // The folder is the service's: the user reads the results because they are world-readable,
      // as world mode's inputs are.
      const run = h.run(batch.id);
      try {
        await until(async () => (await h.batch(batch.id)).fileRefs?.results !== undefined);
      } finally {
        await run.stop();
      }
      expect(statSync(batch.results).mode & 0o777).toBe(0o644);
    });

    it("world mode refuses a per-user folder someone else made", async () => {
      const squat = path.join(h.projects, BOB);
      chownSync(squat, uid.alice, uid.alice);
      // A file of its own: the batch of the test above still runs open.jsonl (same file twice: 409).
      const open = writeInput(path.join(h.projects, "open-again.jsonl"), 2, 0o644);
      const error = await refusal(h.create(open));
      expect(error.code).toBe("path_access_denied");
      expect(error.message).toMatch(/did not make for you/);
      chownSync(squat, process.getuid?.() ?? 0, process.getgid?.() ?? 0);
    });
  });

  describe("world-readable roots (outside the allowed directories)", () => {
    let h: Harness;
    let paths: ReturnType<typeof layout>;
    /** `<world root>/<dir>/<name>` written with `mode`, every directory 0755 unless told. */
    function worldInput(dir: string, name: string, mode: number, dirMode = 0o755): string {
      const folder = path.join(h.world, dir);
      mkdirSync(folder, { recursive: true });
      chmodSync(folder, dirMode);
      const file = writeInput(path.join(folder, name), 2, mode);
      chmodSync(file, mode);
      return file;
    }
    beforeAll(async () => {
      h = await startHarness({ username: BOB, extraConfig: "  fileAccess: posix", worldRoot: true });
      paths = layout(h);
    });
    afterAll(async () => h?.close());

    it("accepts a 0644 input below 0755 folders, with its results in an allowed directory", async () => {
      const input = worldInput("datasets", "open.jsonl", 0o644);
      const batch = await h.create(input, path.join(paths.project, "from-world"));
      expect(batch.results.startsWith(path.join(paths.project, "from-world"))).toBe(true);
      expect((await h.batch(batch.id)).fileRefs.input.root).toBe(h.world);
    });

    it("refuses a 0640 input, even one the user's own account may read", async () => {
      const input = worldInput("datasets", "bobs.jsonl", 0o640);
      chownSync(input, uid.bob, uid.bob);
      const error = await refusal(h.create(input, paths.project));
      expect([error.code, error.status, error.param]).toEqual(["path_access_denied", 403, "input_file"]);
      expect(error.message).toMatch(/readable by everyone/);
      expect(error.message).not.toContain("req-");
    });

    it("refuses an input behind a folder without o+x", async () => {
      const input = worldInput("closed/inner", "open.jsonl", 0o644);
      chmodSync(path.join(h.world, "closed"), 0o750);
      const error = await refusal(h.create(input, paths.project));
      expect([error.code, error.status]).toEqual(["path_access_denied", 403]);
    });

    it("refuses a symlink under the root, even to a world-readable file", async () => {
      const target = worldInput("linked", "real.jsonl", 0o644);
      const link = path.join(h.world, "linked", "alias.jsonl");
      symlinkSync(target, link);
      const error = await refusal(h.create(link, paths.project));
      expect([error.code, error.status]).toEqual(["invalid_path", 400]);
      expect(error.message).toMatch(/is a symbolic link/);
    });

    it("never writes under the root: an output folder there is refused", async () => {
      const input = worldInput("datasets", "for-output.jsonl", 0o644);
      const error = await refusal(h.create(input, path.join(h.world, "results")));
      expect([error.code, error.status, error.param]).toEqual(["path_not_allowed", 403, "output_folder_path"]);
      expect(readdirSync(h.world)).not.toContain("results");
    });

    it("needs an output folder in posix mode (beside the input is outside the allowed directories)", async () => {
      const input = worldInput("datasets", "no-folder.jsonl", 0o644);
      const error = await refusal(h.create(input));
      expect([error.code, error.status, error.param]).toEqual(["missing_required_field", 400, "output_folder_path"]);
      expect(readdirSync(path.join(h.world, "datasets"))).not.toContain(expect.stringContaining("no-folder_"));
    });

    it("a path outside the allowed directories and the roots is still outside", async () => {
      const input = writeInput(path.join(h.outside, "open.jsonl"), 2, 0o644);
      const error = await refusal(h.create(input, paths.project));
      expect([error.code, error.status]).toEqual(["path_not_allowed", 403]);
    });
  });

  describe("world-readable roots, world mode", () => {
    it("without an output folder the results go to the user's own folder in the allowed directory", async () => {
      const h = await startHarness({ username: BOB, extraConfig: "  fileAccess: world", worldRoot: true });
      try {
        const input = writeInput(path.join(h.world, "open.jsonl"), 2, 0o644);
        chmodSync(input, 0o644);
        const batch = await h.create(input);
        expect(path.dirname(batch.dir)).toBe(path.join(h.projects, BOB));
      } finally {
        await h.close();
      }
    });
  });
});
