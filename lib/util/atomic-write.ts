import { randomBytes } from "node:crypto";
import {
  type Dirent,
  accessSync,
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { env } from "./env";
import { RouterlabError } from "./errors";
import { z } from "zod";
import { parseWith } from "./zod-error";

/**
 * The one way routerlab writes an output, report, bundle, cache or state file: a temporary file in the same folder
 * (created exclusively, never through a symlink), the bytes, fsync, rename over the target, fsync of the folder.
 * A reader sees the old file or the new one, never a torn one. Multi-file outputs go through `writeFolderAtomic`.
 *
 * Disk-full and read-only failures become a RouterlabError naming the path and saying what was kept; the
 * temporary file is removed. A target that is a symlink is refused (a write never follows a link out of its folder).
 */

export type FileData = string | Uint8Array;

export interface OutputFile {
  /** A plain file name: no folder separators, not `.` or `..` (checked by `assertSafeName`). */
  name: string;
  data: FileData;
}

/** Refuses a name that could leave its folder: empty, `.`, `..`, absolute, or holding a separator or NUL. */
export function assertSafeName(name: string, what = "output name"): string {
  if (
    name === "" ||
    name === "." ||
    name === ".." ||
    name.includes("/") ||
    name.includes("\\") ||
    name.includes("\0") ||
    path.isAbsolute(name)
  ) {
    throw new RouterlabError(
      `${what} ${JSON.stringify(name)} is not a plain file name (no '..', no separators, not absolute)`,
      { file: name, field: what },
    );
  }
  return name;
}

/**
 * A config field naming a file or folder inside an output folder: letters, digits, '.', '_' and '-', and not `.` or
 * `..` (which would name the folder itself or its parent).
 */
export const OutputNameSchema = z
  .string()
  .regex(/^[\w.-]+$/, "letters, digits, '.', '_' and '-' only")
  .refine((n) => n !== "." && n !== "..", "'.' and '..' are not names (they would leave the output folder)");

/** `dir/name` after checking that `name` stays inside `dir`. */
export function safeJoin(dir: string, name: string, what?: string): string {
  return path.join(dir, assertSafeName(name, what));
}

// ------------------------------------------------------------------ test hook

let writePoints = 0;

/**
 * Counts a write point; with ROUTERLAB_TEST_KILL_AT_WRITE=N the process SIGKILLs itself at the N-th one, and with
 * ROUTERLAB_TEST_WRITE_LOG=<file> each point is logged as "<N> <target>". The points are: half-way through each
 * temporary file, after each rename into place, between the two renames of a folder swap, and before each S3 put
 * or delete (lib/export/s3-store.ts).
 */
export function writePoint(target: string): void {
  writePoints++;
  const e = env();
  if (e.ROUTERLAB_TEST_WRITE_LOG !== undefined) {
    const fd = openAppendLog(e.ROUTERLAB_TEST_WRITE_LOG);
    try {
      writeSync(fd, `${writePoints} ${target}\n`);
    } finally {
      closeSync(fd);
    }
  }
  if (e.ROUTERLAB_TEST_KILL_AT_WRITE !== undefined && writePoints === e.ROUTERLAB_TEST_KILL_AT_WRITE)
    process.kill(process.pid, "SIGKILL");
}

// ------------------------------------------------------------------ errors

const FULL = new Set(["ENOSPC", "EDQUOT"]);
const READ_ONLY = new Set(["EROFS", "EACCES", "EPERM"]);

/**
 * The located error of a failed write: names `target`, says disk full or read-only and what was kept (`kept`, e.g.
 * "no file was written"). A RouterlabError passes through unchanged.
 */
export function writeError(e: unknown, target: string, kept: string): Error {
  if (e instanceof RouterlabError) return e;
  const code = (e as NodeJS.ErrnoException).code ?? "";
  const why = FULL.has(code)
    ? "the disk is full"
    : READ_ONLY.has(code)
      ? "the folder is read-only or not writable"
      : `write failed (${(e as Error).message})`;
  return new RouterlabError(
    `cannot write: ${why}${code ? ` [${code}]` : ""}; ${kept}; no partial file was left`,
    { file: target },
    FULL.has(code) ? "free some space and run again" : undefined,
  );
}

function keptWhat(target: string, kind: "file" | "folder"): string {
  return existsSync(target) ? `the previous ${kind} is kept unchanged` : `no ${kind} was written`;
}

function refuseSymlink(target: string): void {
  let isLink = false;
  try {
    isLink = lstatSync(target).isSymbolicLink();
  } catch {
    return; // absent
  }
  if (isLink)
    throw new RouterlabError("refusing to write through a symlink (outputs never follow links)", {
      file: target,
    });
}

// ------------------------------------------------------------------ files

function toBytes(data: FileData): Uint8Array {
  return typeof data === "string" ? Buffer.from(data, "utf8") : data;
}

function tempName(target: string, tag: string): string {
  return path.join(
    path.dirname(target),
    `.${path.basename(target)}.${tag}-${process.pid}-${randomBytes(4).toString("hex")}`,
  );
}

/** Opens a new file for writing: created exclusively, never through a symlink (streamed outputs renamed into place). */
export function openNewFile(file: string, mode = 0o644): number {
  return openSync(
    file,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    mode,
  );
}

/** Opens an append-only log, created if missing, never through a symlink. */
export function openAppendLog(file: string, mode = 0o644): number {
  return openSync(
    file,
    constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW,
    mode,
  );
}

/** A temp name beside `target` (same folder, so a rename lands atomically), unique to this process and call. */
export function tempPathFor(target: string): string {
  return tempName(target, "tmp");
}

/** Creates `file` exclusively (never through a symlink), writes `bytes`, fsyncs; a write point half-way. */
function writeNewFile(file: string, bytes: Uint8Array, mode: number): void {
  const fd = openNewFile(file, mode);
  try {
    const half = bytes.length >> 1;
    let off = 0;
    while (off < half) off += writeSync(fd, bytes, off, half - off);
    writePoint(file);
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * mkdir -p; on a read-only filesystem node reports ENOENT for a recursive mkdir, so the nearest existing
 * ancestor is asked whether it is writable and its error (EROFS, EACCES) is reported instead.
 */
/** mkdir -p; on a read-only or missing ancestor it throws that ancestor's access error (not Node's ENOENT). */
export function ensureDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    let anc = path.dirname(dir);
    while (!existsSync(anc) && path.dirname(anc) !== anc) anc = path.dirname(anc);
    accessSync(anc, constants.W_OK);
    throw e;
  }
}

/** mkdir -p of an output folder; a full disk or read-only ancestor gives the located error of a failed write. */
export function makeOutputDir(dir: string): void {
  try {
    ensureDir(dir);
  } catch (e) {
    throw writeError(e, dir, "no file was written");
  }
}

export function fsyncDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // some filesystems do not support fsync on a folder
  } finally {
    closeSync(fd);
  }
}

/** Writes one file atomically (creating its folder). See the module comment. */
export function writeFileAtomic(file: string, data: FileData, opts: { mode?: number } = {}): void {
  const dir = path.dirname(file);
  const kept = keptWhat(file, "file");
  let tmp: string | undefined;
  try {
    ensureDir(dir);
    refuseSymlink(file);
    tmp = tempName(file, "tmp");
    writeNewFile(tmp, toBytes(data), opts.mode ?? 0o644);
    renameSync(tmp, file);
    tmp = undefined;
    writePoint(file);
    fsyncDir(dir);
  } catch (e) {
    if (tmp !== undefined) rmSync(tmp, { force: true });
    throw writeError(e, file, kept);
  }
}

/** An output written in pieces (too large to hold whole) to a temp file beside its target; see `openStreamedFile`. */
export interface StreamedFile {
  write(bytes: Uint8Array): void;
  /** fsync, rename into place, fsync of the folder. */
  commit(): void;
  /** Removes the temp file (after a failure elsewhere); the target stays as it was. */
  abort(): void;
}

/**
 * Opens a streamed output: pieces go to a temp file in the target's folder, `commit` renames it over the target.
 * Any failure removes the temp file and throws the same located error as `writeFileAtomic` (path, disk full or
 * read-only, what was kept).
 */
export function openStreamedFile(target: string, opts: { mode?: number } = {}): StreamedFile {
  const dir = path.dirname(target);
  const kept = keptWhat(target, "file");
  let tmp: string | undefined;
  let fd: number | undefined;
  const abort = (): void => {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
      fd = undefined;
    }
    if (tmp !== undefined) rmSync(tmp, { force: true });
    tmp = undefined;
  };
  const guard = (step: () => void): void => {
    try {
      step();
    } catch (e) {
      abort();
      throw writeError(e, target, kept);
    }
  };
  guard(() => {
    ensureDir(dir);
    refuseSymlink(target);
    tmp = tempName(target, "tmp");
    fd = openNewFile(tmp, opts.mode ?? 0o644);
  });
  return {
    write: (bytes) =>
      guard(() => {
        let w = 0;
        while (w < bytes.length) w += writeSync(fd!, bytes, w, bytes.length - w);
      }),
    commit: () =>
      guard(() => {
        fsyncSync(fd!);
        closeSync(fd!);
        fd = undefined;
        refuseSymlink(target);
        renameSync(tmp!, target);
        tmp = undefined;
        writePoint(target);
        fsyncDir(dir);
      }),
    abort,
  };
}

/** `JSON.stringify(value, null, 2)` plus a final newline, written atomically. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + "\n");
}

// ------------------------------------------------------------------ folders

/** Whether a process with this id exists (a lock's or journal's writer). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Finishes what a killed folder swap left: if the folder is missing but its previous version was set aside,
 * that version is put back (the old set); temporary and set-aside folders of dead processes are removed.
 * `writeFolderAtomic` calls it first; readers of a folder written that way may call it too.
 */
export function recoverFolder(dir: string): void {
  const parent = path.dirname(dir);
  const base = path.basename(dir);
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  const mine = (tag: string) =>
    names
      .map((n) => ({ n, m: new RegExp(`^\\.${escapeRe(base)}\\.${tag}-(\\d+)-[0-9a-f]+$`).exec(n) }))
      .filter((x): x is { n: string; m: RegExpExecArray } => x.m !== null && !pidAlive(Number(x.m[1])))
      .map((x) => path.join(parent, x.n));
  const olds = mine("old");
  if (!existsSync(dir) && olds.length > 0) {
    renameSync(olds[0]!, dir);
    olds.shift();
  }
  for (const p of [...olds, ...mine("tmp")]) rmSync(p, { recursive: true, force: true });
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Writes a set of files as one folder: they are written into a temporary sibling folder, which then replaces
 * `dir` (the previous folder is set aside by one rename and removed after the second), so the set appears
 * together or not at all. `dir` belongs to this output alone: `owns(name)` says which names the output may hold,
 * and an existing folder holding anything else is refused (nothing is written), so a folder swap never deletes a
 * file it did not write. Old outputs missing from `files` (e.g. `fold-7.json` after a re-split with k = 5) go.
 * A kill between the two renames leaves `dir` missing with its old version set aside; the next `writeFolderAtomic`
 * or `recoverFolder` puts it back.
 */
export function writeFolderAtomic(
  dir: string,
  files: readonly OutputFile[],
  opts: { owns: (name: string) => boolean; mode?: number },
): void {
  const names = new Set<string>();
  for (const f of files) {
    assertSafeName(f.name, "output file name");
    if (!opts.owns(f.name))
      throw new RouterlabError(`output file name ${JSON.stringify(f.name)} is not one this output writes`, {
        file: dir,
      });
    if (names.has(f.name))
      throw new RouterlabError(`output file name ${JSON.stringify(f.name)} given twice`, { file: dir });
    names.add(f.name);
  }
  const parent = path.dirname(dir);
  let kept = keptWhat(dir, "folder");
  let tmp: string | undefined;
  let old: string | undefined;
  try {
    ensureDir(parent);
    refuseSymlink(dir);
    recoverFolder(dir);
    kept = keptWhat(dir, "folder");
    if (existsSync(dir)) {
      const foreign = readdirSync(dir).filter((n) => !opts.owns(n));
      if (foreign.length > 0)
        throw new RouterlabError(
          `refusing to replace a folder holding files this output did not write: ${foreign.slice(0, 5).join(", ")}`,
          { file: dir },
          "choose an empty or dedicated output folder",
        );
    }
    tmp = tempName(dir, "tmp");
    mkdirSync(tmp);
    for (const f of files) writeNewFile(path.join(tmp, f.name), toBytes(f.data), opts.mode ?? 0o644);
    fsyncDir(tmp);
    if (existsSync(dir)) {
      old = tempName(dir, "old");
      renameSync(dir, old);
      writePoint(dir);
    }
    renameSync(tmp, dir);
    tmp = undefined;
    writePoint(dir);
    fsyncDir(parent);
  } catch (e) {
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
    if (old !== undefined && !existsSync(dir)) renameSync(old, dir);
    throw writeError(e, dir, kept);
  }
  if (old !== undefined) rmSync(old, { recursive: true, force: true });
}

// ------------------------------------------------------------------ file sets in a shared folder

/** The journal of a file set being put in place; while it exists, `recoverFileSet` completes the set. */
export const FILE_SET_JOURNAL = ".routerlab-fileset.journal";

const FileSetJournalSchema = z.strictObject({
  version: z.literal(1),
  pid: z.number().int(),
  /** In the order they are renamed into place: each staged temp name and its final name. */
  entries: z.array(z.strictObject({ name: z.string(), staged: z.string() })),
  /** Files of the previous set that the new set does not have. */
  remove: z.array(z.string()),
  /** A file whose mtime must end strictly newer than the given one (the gateway's lazy reload). */
  newer: z.strictObject({ name: z.string(), thanMs: z.number() }).nullable(),
});
type FileSetJournal = z.infer<typeof FileSetJournalSchema>;

/** Staged files of a file set, and temporary files of `writeFileAtomic` (the journal's own, among others). */
const STAGED = /^\..+\.(?:set|tmp)-(\d+)-[0-9a-f]{8}$/;

/**
 * `dir/name` for a member of a file set: a plain file name, or `sub/name` for a file in a subfolder of `dir` (one
 * level, each part checked by `assertSafeName`; the subfolder must not be a symlink, so a write never leaves `dir`).
 */
export function fileSetMember(dir: string, name: string, what = "output file name"): string {
  const parts = name.split("/");
  if (parts.length > 2)
    throw new RouterlabError(`${what} ${JSON.stringify(name)} is more than one subfolder deep`, {
      file: name,
      field: what,
    });
  parts.forEach((p) => assertSafeName(p, what));
  if (parts.length === 2) refuseSymlink(path.join(dir, parts[0]!));
  return path.join(dir, ...parts);
}

/** Renames the staged files into place in order, removes the old names, bumps the mtime, drops the journal. */
function applyFileSet(dir: string, j: FileSetJournal): void {
  for (const e of j.entries) {
    const staged = fileSetMember(dir, e.staged, "staged file name");
    const target = fileSetMember(dir, e.name);
    if (existsSync(staged)) {
      refuseSymlink(target);
      renameSync(staged, target);
      writePoint(target);
    } else if (!existsSync(target)) {
      throw new RouterlabError(
        `file set journal names ${e.name}, but neither it nor its staged copy exists`,
        {
          file: path.join(dir, FILE_SET_JOURNAL),
        },
      );
    }
  }
  for (const name of j.remove) rmSync(fileSetMember(dir, name), { force: true });
  if (j.newer) {
    const target = fileSetMember(dir, j.newer.name);
    if (!(statSync(target).mtimeMs > j.newer.thanMs)) {
      // coarse timestamps or a clock step: push the mtime past the old one (a whole second, for 1 s filesystems)
      const t = new Date(Math.max(j.newer.thanMs + 1000, Date.now()));
      utimesSync(target, t, t);
      if (!(statSync(target).mtimeMs > j.newer.thanMs))
        throw new RouterlabError("cannot make the file's mtime newer than before", { file: target });
    }
  }
  for (const sub of new Set(j.entries.map((e) => path.dirname(e.name)))) fsyncDir(path.join(dir, sub));
  rmSync(path.join(dir, FILE_SET_JOURNAL), { force: true });
  fsyncDir(dir);
}

/**
 * Finishes what a killed `writeFileSetAtomic` left in `dir`: with a journal (the set was committed) the staged
 * files are renamed into place and the old names removed (the new set); without one, staged and temporary files of
 * dead processes are removed (the old set). A writer meeting the journal of another live process throws; a reader
 * (`opts.reader`, a loader) leaves the journal of any live process, its own threads' included, to that writer.
 * Leftovers are looked for in `dir` only, or also one subfolder level down with `opts.subfolders` (a set whose
 * names are `sub/name`, like the main job's reports): loaders and most writers need not list every subfolder.
 */
export function recoverFileSet(dir: string, opts: { reader?: boolean; subfolders?: boolean } = {}): void {
  const journal = path.join(dir, FILE_SET_JOURNAL);
  if (existsSync(journal)) {
    const j = parseWith(FileSetJournalSchema, parseJsonOrThrow(journal), { file: journal, jsonPath: "$" });
    if (opts.reader && pidAlive(j.pid)) return;
    if (j.pid !== process.pid && pidAlive(j.pid))
      throw new RouterlabError(`another routerlab process (pid ${j.pid}) is writing this folder`, {
        file: journal,
      });
    applyFileSet(dir, j);
  }
  removeDeadStaged(dir, opts.subfolders ? 1 : 0);
}

/** Cleanup of leftovers: a read-only folder (a loader's) keeps them, which is harmless. */
function removeQuietly(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch {
    // left for the next writer
  }
}

/** Removes staged and temporary files of dead processes in `dir` and, `depth` levels down, in its real subfolders. */
function removeDeadStaged(dir: string, depth: number): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const d of entries) {
    const m = STAGED.exec(d.name);
    if (m && d.isFile() && !pidAlive(Number(m[1]))) removeQuietly(path.join(dir, d.name));
    else if (depth > 0 && d.isDirectory()) removeDeadStaged(path.join(dir, d.name), depth - 1);
  }
}

function parseJsonOrThrow(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new RouterlabError(`unreadable file set journal: ${(e as Error).message}`, { file });
  }
}

/**
 * Writes a set of files into a folder they share with other files (the gateway's folder, a report folder next to
 * cached scores), so a folder swap is not possible: every file is staged under a temporary name and fsynced, then a
 * journal naming the set is written atomically (the commit point), then the files are renamed into place in the
 * given order and `remove` names are deleted. A kill before the journal leaves the old set; after it, the next
 * `writeFileSetAtomic` or `recoverFileSet` on the folder completes the new set. Readers that cannot wait for that
 * (the gateway) see the files appear in the given order, each whole. A name may be `sub/name` (one subfolder
 * level, created if missing): a report step whose files live in several subfolders commits them as one set.
 */
export function writeFileSetAtomic(
  dir: string,
  files: readonly OutputFile[],
  opts: { remove?: readonly string[]; newer?: { name: string; thanMs: number } | null; mode?: number } = {},
): void {
  const names = new Set<string>();
  for (const f of files) {
    fileSetMember(dir, f.name);
    if (names.has(f.name))
      throw new RouterlabError(`output file name ${JSON.stringify(f.name)} given twice`, { file: dir });
    names.add(f.name);
  }
  const remove = (opts.remove ?? []).filter((n) => !names.has(n));
  remove.forEach((n) => fileSetMember(dir, n));
  const kept = files.some((f) => existsSync(path.join(dir, f.name)))
    ? "the previous files are kept unchanged"
    : "no file was written";
  const staged: string[] = [];
  try {
    ensureDir(dir);
    recoverFileSet(dir, { subfolders: files.some((f) => f.name.includes("/")) });
    const entries = files.map((f) => {
      const target = fileSetMember(dir, f.name);
      ensureDir(path.dirname(target));
      refuseSymlink(target);
      const tmp = tempName(target, "set");
      staged.push(tmp);
      writeNewFile(tmp, toBytes(f.data), opts.mode ?? 0o644);
      return { name: f.name, staged: path.relative(dir, tmp) };
    });
    for (const sub of new Set(staged.map((s) => path.dirname(s)))) fsyncDir(sub);
    const journal: FileSetJournal = {
      version: 1,
      pid: process.pid,
      entries,
      remove,
      newer: opts.newer ?? null,
    };
    writeFileAtomic(path.join(dir, FILE_SET_JOURNAL), JSON.stringify(journal) + "\n");
    staged.length = 0; // committed: from here on the set is completed, by this call or by recovery
    applyFileSet(dir, journal);
  } catch (e) {
    for (const s of staged) rmSync(s, { force: true });
    throw writeError(e, dir, kept);
  }
}
