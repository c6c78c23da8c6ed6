import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { z } from "zod";
import { EmbeddingCache, specKey } from "../../lib/embed";
import { ResponseCache } from "../../lib/llm/cache";
import {
  assertSafeName,
  OutputNameSchema,
  FILE_SET_JOURNAL,
  fileSetMember,
  recoverFileSet,
  recoverFolder,
  safeJoin,
  writeFileAtomic,
  writeFileSetAtomic,
  writeFolderAtomic,
} from "../../lib/util/atomic-write";
import { parseYamlConfig } from "../../lib/util/config";
import { parseEnv } from "../../lib/util/env";
import { RouterlabError } from "../../lib/util/errors";
import { mountTmpfs, unmount } from "../support/tmpfs";

function tmp(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-atomic-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test("writeFileAtomic writes, replaces and leaves no temporary file", () => {
  const t = tmp();
  try {
    const f = path.join(t.dir, "sub", "a.json");
    writeFileAtomic(f, "one");
    writeFileAtomic(f, new Uint8Array([116, 119, 111]));
    assert.equal(readFileSync(f, "utf8"), "two");
    assert.deepEqual(readdirSync(path.dirname(f)), ["a.json"]);
  } finally {
    t.cleanup();
  }
});

test("a target that is a symlink is refused and the linked file is untouched", () => {
  const t = tmp();
  try {
    const outside = path.join(t.dir, "outside.txt");
    writeFileSync(outside, "precious");
    mkdirSync(path.join(t.dir, "out"));
    const link = path.join(t.dir, "out", "model.pt");
    symlinkSync(outside, link);
    assert.throws(
      () => writeFileAtomic(link, "evil"),
      (e: unknown) => {
        assert.ok(e instanceof RouterlabError);
        assert.match(e.message, /model\.pt: refusing to write through a symlink/);
        return true;
      },
    );
    assert.equal(readFileSync(outside, "utf8"), "precious");
    assert.deepEqual(readdirSync(path.join(t.dir, "out")), ["model.pt"]);
  } finally {
    t.cleanup();
  }
});

test("names that could leave their folder are refused", () => {
  for (const bad of ["", ".", "..", "../x", "a/b", "a\\b", "/etc/passwd", "x\0y"]) {
    assert.throws(() => assertSafeName(bad), RouterlabError, JSON.stringify(bad));
  }
  assert.equal(assertSafeName("router.pt"), "router.pt");
  assert.equal(assertSafeName("..hidden"), "..hidden");
  assert.equal(safeJoin("/o", "a.json"), path.join("/o", "a.json"));
});

test("a file set may span one level of subfolders; deeper, escaping or symlinked members are refused", () => {
  const t = tmp();
  try {
    const dir = path.join(t.dir, "main");
    writeFileSetAtomic(dir, [
      { name: "mmlu/report.html", data: "r" },
      { name: "summary.json", data: "s" },
    ]);
    assert.equal(readFileSync(path.join(dir, "mmlu", "report.html"), "utf8"), "r");
    assert.equal(readFileSync(path.join(dir, "summary.json"), "utf8"), "s");
    for (const bad of ["a/b/c.json", "../x.json", "a/../x.json", "/etc/x", "a//x.json"])
      assert.throws(() => writeFileSetAtomic(dir, [{ name: bad, data: "x" }]), RouterlabError, bad);
    const outside = path.join(t.dir, "outside");
    mkdirSync(outside);
    symlinkSync(outside, path.join(dir, "linked"));
    assert.throws(
      () => writeFileSetAtomic(dir, [{ name: "linked/x.json", data: "x" }]),
      /refusing to write through a symlink/,
    );
    assert.deepEqual(readdirSync(outside), []);
    assert.equal(fileSetMember(dir, "mmlu/report.html"), path.join(dir, "mmlu", "report.html"));
  } finally {
    t.cleanup();
  }
});

test("writeFolderAtomic replaces the whole set, drops stale outputs and refuses a folder it does not own", () => {
  const t = tmp();
  try {
    const dir = path.join(t.dir, "splits");
    const owns = (n: string) => /^(train|test|fold-\d+)\.json$/.test(n);
    writeFolderAtomic(
      dir,
      [
        { name: "train.json", data: "1" },
        { name: "fold-7.json", data: "old" },
      ],
      { owns },
    );
    writeFolderAtomic(
      dir,
      [
        { name: "train.json", data: "2" },
        { name: "test.json", data: "3" },
      ],
      { owns },
    );
    assert.deepEqual(readdirSync(dir).sort(), ["test.json", "train.json"]);
    assert.equal(readFileSync(path.join(dir, "train.json"), "utf8"), "2");
    assert.deepEqual(readdirSync(t.dir), ["splits"], "no temporary or set-aside folder is left");
    writeFileSync(path.join(dir, "notes.txt"), "mine");
    assert.throws(() => writeFolderAtomic(dir, [{ name: "train.json", data: "4" }], { owns }), /notes\.txt/);
    assert.equal(readFileSync(path.join(dir, "train.json"), "utf8"), "2");
    assert.throws(
      () => writeFolderAtomic(dir, [{ name: "..", data: "x" }], { owns: () => true }),
      /not a plain file name/,
    );
  } finally {
    t.cleanup();
  }
});

test("recoverFolder puts back a folder set aside by a killed swap and removes dead temporaries", () => {
  const t = tmp();
  try {
    // a pid that cannot be alive: the kernel's pid_max is below 2^22 on Linux
    const dead = 4194304 + 17;
    const old = path.join(t.dir, `.summary.old-${dead}-abcd0123`);
    mkdirSync(old);
    writeFileSync(path.join(old, "summary.json"), "old");
    mkdirSync(path.join(t.dir, `.summary.tmp-${dead}-00ff00ff`));
    recoverFolder(path.join(t.dir, "summary"));
    assert.deepEqual(readdirSync(t.dir), ["summary"]);
    assert.equal(readFileSync(path.join(t.dir, "summary", "summary.json"), "utf8"), "old");
  } finally {
    t.cleanup();
  }
});

test("disk full (64 KiB tmpfs): a located error, the previous file kept, no partial file", (ctx) => {
  const t = tmp();
  const mnt = path.join(t.dir, "full");
  const skip = mountTmpfs(mnt, "size=64k");
  if (skip) {
    ctx.skip(skip);
    t.cleanup();
    return;
  }
  try {
    const f = path.join(mnt, "report.html");
    writeFileAtomic(f, "old report");
    assert.throws(
      () => writeFileAtomic(f, "x".repeat(256 * 1024)),
      (e: unknown) => {
        assert.ok(e instanceof RouterlabError);
        assert.equal(e.location?.file, f);
        assert.match(
          e.message,
          /the disk is full \[ENOSPC\]; the previous file is kept unchanged; no partial file/,
        );
        return true;
      },
    );
    assert.equal(readFileSync(f, "utf8"), "old report");
    assert.deepEqual(readdirSync(mnt), ["report.html"]);
    const dir = path.join(mnt, "summary");
    assert.throws(
      () =>
        writeFolderAtomic(dir, [{ name: "index.html", data: "y".repeat(256 * 1024) }], { owns: () => true }),
      /summary: cannot write: the disk is full \[ENOSPC\]; no folder was written/,
    );
    assert.deepEqual(readdirSync(mnt), ["report.html"]);
  } finally {
    unmount(mnt);
    t.cleanup();
  }
});

test("read-only folder: a located error and nothing written", (ctx) => {
  const t = tmp();
  const mnt = path.join(t.dir, "ro");
  const skip = mountTmpfs(mnt, "ro,size=64k");
  if (skip) {
    ctx.skip(skip);
    t.cleanup();
    return;
  }
  try {
    const f = path.join(mnt, "out", "summary.json");
    assert.throws(
      () => writeFileAtomic(f, "{}"),
      (e: unknown) => {
        assert.ok(e instanceof RouterlabError);
        assert.match(
          e.message,
          /summary\.json: cannot write: the folder is read-only or not writable \[EROFS\]; no file was written/,
        );
        return true;
      },
    );
    assert.throws(
      () =>
        writeFolderAtomic(path.join(mnt, "splits"), [{ name: "a.json", data: "1" }], { owns: () => true }),
      /splits: cannot write: the folder is read-only or not writable \[EROFS\]/,
    );
    assert.deepEqual(readdirSync(mnt), []);
  } finally {
    unmount(mnt);
    t.cleanup();
  }
});

test("the kill hook is read through the env schema; a bad value names the variable", () => {
  assert.equal(parseEnv({ ROUTERLAB_TEST_KILL_AT_WRITE: "3" }).ROUTERLAB_TEST_KILL_AT_WRITE, 3);
  assert.equal(parseEnv({}).ROUTERLAB_TEST_KILL_AT_WRITE, undefined);
  assert.throws(
    () => parseEnv({ ROUTERLAB_TEST_KILL_AT_WRITE: "soon" }),
    /ROUTERLAB_TEST_KILL_AT_WRITE="soon"/,
  );
});

test("a process killed at every write point leaves the old file or the new one", () => {
  const t = tmp();
  try {
    const f = path.join(t.dir, "state.json");
    writeFileAtomic(f, "old".repeat(1000));
    const mod = path.join(__dirname, "..", "..", "lib", "util", "atomic-write.js");
    const script = `require(${JSON.stringify(mod)}).writeFileAtomic(${JSON.stringify(f)}, "new".repeat(1000));`;
    for (let n = 1; ; n++) {
      const r = spawnSync(process.execPath, ["-e", script], {
        env: { ...process.env, ROUTERLAB_TEST_KILL_AT_WRITE: String(n) },
      });
      const text = readFileSync(f, "utf8");
      assert.ok(text === "old".repeat(1000) || text === "new".repeat(1000), `kill at write ${n}: torn file`);
      if (r.signal !== "SIGKILL") {
        assert.equal(r.status, 0);
        assert.equal(text, "new".repeat(1000));
        assert.ok(n > 2, "the hook stopped the process at least twice");
        break;
      }
    }
  } finally {
    t.cleanup();
  }
});

test("an output name of '..' in a config is refused with the file, line and field", () => {
  const Cfg = z.strictObject({ output: z.strictObject({ name: OutputNameSchema }) });
  assert.equal(parseYamlConfig("output:\n  name: knn-v2.1\n", "train.yaml", Cfg).output.name, "knn-v2.1");
  for (const bad of ["..", ".", "../x", "a/b"]) {
    assert.throws(
      () => parseYamlConfig(`output:\n  name: "${bad}"\n`, "train.yaml", Cfg),
      (e: unknown) =>
        e instanceof RouterlabError && e.location?.line === 2 && e.location.field === "output.name",
      bad,
    );
  }
});

test("a folder where a cache segment file is expected is skipped, not a crash", () => {
  const t = tmp();
  try {
    const llm = path.join(t.dir, "llm");
    mkdirSync(path.join(llm, "seg-0-1-aa.jsonl"), { recursive: true });
    const c = new ResponseCache(llm);
    assert.equal(c.size, 0);
    c.close();
    const spec = {
      modelId: "test/model",
      dim: 4,
      precision: "fp32" as const,
      maxLength: 256,
      pooling: "mean" as const,
      normalize: true,
      weightsSha256: "0".repeat(64),
    };
    const e = new EmbeddingCache(spec, t.dir);
    e.close();
    mkdirSync(path.join(t.dir, "embeddings", specKey(spec), "seg-0-1-aa.bin"));
    const again = new EmbeddingCache(spec, t.dir);
    assert.equal(again.info().segments, 0);
    again.close();
  } finally {
    t.cleanup();
  }
});

/** Every file of a folder with its text. */
function contents(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((n) => [n, readFileSync(path.join(dir, n), "utf8")]),
  );
}

test("writeFileSetAtomic killed at every write point: after recovery the shared folder holds the old set or the new set", () => {
  const t = tmp();
  try {
    const dir = path.join(t.dir, "shared");
    mkdirSync(dir);
    writeFileSync(path.join(dir, "other.txt"), "not part of the set");
    const oldSet = [
      { name: "a.json", data: "old-a".repeat(500) },
      { name: "b.json", data: "old-b".repeat(500) },
      { name: "gone.json", data: "old-gone" },
    ];
    writeFileSetAtomic(dir, oldSet);
    const before = contents(dir);
    const newSet = [
      { name: "a.json", data: "new-a".repeat(700) },
      { name: "b.json", data: "new-b".repeat(700) },
      { name: "c.json", data: "new-c".repeat(700) },
    ];
    const mod = path.join(__dirname, "..", "..", "lib", "util", "atomic-write.js");
    const script = `require(${JSON.stringify(mod)}).writeFileSetAtomic(${JSON.stringify(dir)}, ${JSON.stringify(newSet)}, { remove: ["gone.json"] });`;
    const seen: Record<string, string>[] = [];
    for (let n = 1; n < 100; n++) {
      const r = spawnSync(process.execPath, ["-e", script], {
        env: { ...process.env, ROUTERLAB_TEST_KILL_AT_WRITE: String(n) },
        encoding: "utf8",
      });
      if (r.signal !== "SIGKILL") {
        assert.equal(r.status, 0, r.stderr);
        const after = contents(dir);
        assert.deepEqual(Object.keys(after), ["a.json", "b.json", "c.json", "other.txt"]);
        assert.ok(seen.length >= 6, `stopped at ${seen.length} write points`);
        assert.ok(
          seen.some((s) => JSON.stringify(s) === JSON.stringify(before)),
          "a kill before the commit",
        );
        assert.ok(
          seen.some((s) => JSON.stringify(s) === JSON.stringify(after)),
          "a kill after the commit",
        );
        for (const [i, s] of seen.entries())
          assert.ok(
            JSON.stringify(s) === JSON.stringify(before) || JSON.stringify(s) === JSON.stringify(after),
            `kill at write ${i + 1}: ${Object.keys(s).join(", ")} is neither the old set nor the new one`,
          );
        return;
      }
      recoverFileSet(dir);
      seen.push(contents(dir));
      // the next run starts from the recovered folder: put the old set back so every kill point starts the same
      writeFileSetAtomic(dir, oldSet);
      rmSync(path.join(dir, "c.json"), { force: true });
      assert.deepEqual(contents(dir), before);
    }
    assert.fail("the writer never finished");
  } finally {
    t.cleanup();
  }
});

test("a file set journal that is not valid names the journal file and the field", () => {
  const t = tmp();
  try {
    writeFileSync(
      path.join(t.dir, FILE_SET_JOURNAL),
      JSON.stringify({ version: 1, pid: 1, entries: [{ name: 3 }] }),
    );
    assert.throws(
      () => recoverFileSet(t.dir),
      (e: unknown) =>
        e instanceof RouterlabError &&
        e.message.includes(path.join(t.dir, FILE_SET_JOURNAL)) &&
        e.message.includes("$.entries[0].name"),
    );
  } finally {
    t.cleanup();
  }
});
