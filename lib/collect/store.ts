/**
 * The collected dataset on disk: JSON Lines segment files (`segment-000001.jsonl`, ...) rotated at
 * a size, an `index.json` (atomic rewrite) and a `collect.lock` naming the writing process.
 *
 * Crash safety: each request's records are written followed by one `batch` line (the commit
 * marker) and fsynced before the request is acknowledged; several waiting requests share one
 * write and one fsync (group commit). After a kill -9, records after the last batch line of a
 * segment belong to a request that was never acknowledged: `open` cuts them off.
 *
 * Segments are append-only files fsynced per batch (above), so they do not go through the atomic writer of
 * lib/util/atomic-write.ts, which replaces whole files; `index.json` is a whole file and does.
 */
import {
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
  ftruncateSync,
} from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { open as openAsync } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import {
  ensureDir,
  fsyncDir,
  openNewFile,
  pidAlive,
  writeError,
  writeFileAtomic,
} from "../util/atomic-write";
import { RouterlabError } from "../util/errors";
import type { BatchCounts, BatchRecord } from "./records";
import { addCounts, BatchCountsSchema, emptyCounts } from "./records";

export const SEGMENT_RE = /^segment-(\d{6})\.jsonl$/;
export const INDEX_FILE = "index.json";
export const LOCK_FILE = "collect.lock";

export function segmentName(n: number): string {
  return `segment-${String(n).padStart(6, "0")}.jsonl`;
}

const SegmentInfoSchema = z.object({
  file: z.string().regex(SEGMENT_RE),
  bytes: z.number().int().nonnegative(),
  batches: z.number().int().nonnegative(),
  closed: z.boolean(),
  counts: BatchCountsSchema,
});
export type SegmentInfo = z.infer<typeof SegmentInfoSchema>;

export const IndexSchema = z.object({
  format: z.literal("routerlab.collect.v1"),
  segments: z.array(SegmentInfoSchema),
  totals: BatchCountsSchema,
  updated_ms: z.number(),
});
export type CollectIndex = z.infer<typeof IndexSchema>;

export interface StoreOptions {
  /** Rotate the active segment once it reaches this many bytes. */
  segmentBytes: number;
}

const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

function writeIndexAtomic(dir: string, index: CollectIndex): void {
  writeFileAtomic(path.join(dir, INDEX_FILE), JSON.stringify(index, null, 1) + "\n");
}

/** A real directory (not a symlink), created when missing. */
export function realDir(dir: string, create: boolean): string {
  const abs = path.resolve(dir);
  if (create) mkdirSync(abs, { recursive: true });
  let st;
  try {
    st = lstatSync(abs);
  } catch {
    throw new RouterlabError("no such directory", { file: abs });
  }
  if (st.isSymbolicLink() || !st.isDirectory())
    throw new RouterlabError("not a directory (symlinks are not followed)", { file: abs });
  return abs;
}

/** The segment files of a dataset directory, in order; symlinks and other files are ignored. */
export function listSegments(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isFile() && SEGMENT_RE.test(d.name))
    .map((d) => d.name)
    .sort();
}

export function readIndex(dir: string): CollectIndex | null {
  let text: string;
  try {
    text = readFileSync(path.join(dir, INDEX_FILE), "utf8");
  } catch {
    return null;
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  const r = IndexSchema.safeParse(v);
  return r.success ? r.data : null;
}

/**
 * Scans a segment's committed part: the byte length up to and including its last batch line, and
 * the counts of its batch lines. Lines are not validated here beyond finding batch markers.
 */
export function scanSegment(bytes: Buffer): {
  committedBytes: number;
  batches: number;
  counts: BatchCounts;
  lastSeq: number;
} {
  let committedBytes = 0;
  let batches = 0;
  let counts = emptyCounts();
  let lastSeq = -1;
  let start = 0;
  while (start < bytes.length) {
    const nl = bytes.indexOf(10, start);
    if (nl < 0) break; // torn last line
    if (
      bytes[start] === 0x7b &&
      bytes
        .subarray(start, Math.min(nl, start + 12))
        .toString("latin1")
        .startsWith('{"t":"batch"')
    ) {
      const rec = JSON.parse(bytes.subarray(start, nl).toString("utf8")) as BatchRecord;
      counts = addCounts(counts, BatchCountsSchema.parse(rec.counts));
      lastSeq = rec.seq;
      batches++;
      committedBytes = nl + 1;
    }
    start = nl + 1;
  }
  return { committedBytes, batches, counts, lastSeq };
}

function takeLock(dir: string): void {
  const file = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openNewFile(file);
      try {
        writeAll(fd, Buffer.from(String(process.pid)));
      } catch (e) {
        closeSync(fd);
        rmSync(file, { force: true });
        throw e;
      }
      closeSync(fd);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number(readFileSync(file, "utf8").trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid))
        throw new RouterlabError(`another routerlab collect (pid ${pid}) is writing this dataset`, { file });
      rmSync(file, { force: true }); // stale: its writer is gone
    }
  }
  throw new RouterlabError("cannot take the dataset lock", { file });
}

interface Pending {
  text: string;
  bytes: number;
  counts: BatchCounts;
  resolve: (b: BatchRecord) => void;
  reject: (e: Error) => void;
}

export interface RecoveryReport {
  /** Bytes cut from segment tails: records of requests that were never acknowledged. */
  truncatedBytes: number;
  segments: number;
}

export class CollectStore {
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private flushing: Promise<void> | null = null;
  private handle: FileHandle | null = null;
  private closed = false;
  private failure: Error | null = null;

  private constructor(
    readonly dir: string,
    private readonly opts: StoreOptions,
    private segments: SegmentInfo[],
    private seq: number,
    readonly recovery: RecoveryReport,
  ) {}

  /** Opens (creating when missing) a dataset directory for writing: lock, recovery of torn tails, index. */
  static async open(dir: string, opts: StoreOptions): Promise<CollectStore> {
    const target = path.resolve(dir);
    const kept = existsSync(target) ? "the dataset's files are kept unchanged" : "no file was written";
    try {
      ensureDir(target);
      return await CollectStore.openDir(realDir(target, false), opts);
    } catch (e) {
      // a full or read-only disk: the located error (path, cause, what was kept) instead of a raw stack
      throw writeError(e, target, kept);
    }
  }

  private static async openDir(abs: string, opts: StoreOptions): Promise<CollectStore> {
    takeLock(abs);
    try {
      const index = readIndex(abs);
      const known = new Map((index?.segments ?? []).map((s) => [s.file, s]));
      const segments: SegmentInfo[] = [];
      let truncatedBytes = 0;
      let seq = -1;
      for (const file of listSegments(abs)) {
        const full = path.join(abs, file);
        const bytes = readFileSync(full);
        const k = known.get(file);
        if (k && k.closed && k.bytes === bytes.length) {
          segments.push(k);
          seq = Math.max(seq, lastSeqOf(bytes));
          continue;
        }
        const scan = scanSegment(bytes);
        if (scan.committedBytes < bytes.length) {
          const fd = openSync(full, constants.O_WRONLY | NOFOLLOW);
          try {
            ftruncateSync(fd, scan.committedBytes);
            fsyncSync(fd);
          } finally {
            closeSync(fd);
          }
          truncatedBytes += bytes.length - scan.committedBytes;
        }
        seq = Math.max(seq, scan.lastSeq);
        if (scan.committedBytes === 0) {
          rmSync(full, { force: true }); // nothing committed: a segment opened by a run that got no request
          continue;
        }
        segments.push({
          file,
          bytes: scan.committedBytes,
          batches: scan.batches,
          closed: false,
          counts: scan.counts,
        });
      }
      // every segment but the last is closed; a new process always starts a fresh segment
      for (const s of segments) s.closed = true;
      const store = new CollectStore(abs, opts, segments, seq + 1, {
        truncatedBytes,
        segments: segments.length,
      });
      await store.startSegment();
      return store;
    } catch (e) {
      rmSync(path.join(abs, LOCK_FILE), { force: true });
      throw e;
    }
  }

  /** Bytes accepted but not yet on disk. */
  pendingBytes(): number {
    return this.queuedBytes;
  }

  totals(): BatchCounts {
    return this.segments.reduce((acc, s) => addCounts(acc, s.counts), emptyCounts());
  }

  index(): CollectIndex {
    return {
      format: "routerlab.collect.v1",
      segments: this.segments.map((s) => ({ ...s })),
      totals: this.totals(),
      updated_ms: Date.now(),
    };
  }

  /**
   * Appends one request's records (JSON lines, each ending in "\n") and its commit marker;
   * resolves once they are fsynced. A write error fails the requests of that group only: the segment is cut back
   * to its last commit marker and later appends go on; only when that cut-back itself fails is every later append
   * refused (until a restart).
   */
  append(text: string, counts: BatchCounts): Promise<BatchRecord> {
    if (this.closed) return Promise.reject(new Error("store is closed"));
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<BatchRecord>((resolve, reject) => {
      const bytes = Buffer.byteLength(text, "utf8");
      this.queue.push({ text, bytes, counts, resolve, reject });
      this.queuedBytes += bytes;
      this.kick();
    });
  }

  private kick(): void {
    if (this.flushing) return;
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = null;
      if (this.queue.length > 0 && !this.failure) this.kick();
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue;
      this.queue = [];
      const now = Date.now();
      const parts: string[] = [];
      const batches: BatchRecord[] = [];
      for (const p of group) {
        const b: BatchRecord = { t: "batch", seq: this.seq++, at_ms: now, counts: p.counts };
        batches.push(b);
        parts.push(p.text, JSON.stringify(b), "\n");
      }
      const buf = Buffer.from(parts.join(""), "utf8");
      try {
        if (!this.handle) await this.startSegment(); // a rotation that failed (a full disk) is retried
        const active = this.segments[this.segments.length - 1]!;
        if (active.bytes > 0 && active.bytes + buf.length > this.opts.segmentBytes) await this.rotate();
        const h = this.handle!;
        const seg = this.segments[this.segments.length - 1]!;
        try {
          let off = 0;
          while (off < buf.length) off += (await h.write(buf, off, buf.length - off)).bytesWritten;
          await h.sync();
        } catch (e) {
          await this.rollBack(h, seg, e);
          throw e;
        }
        seg.bytes += buf.length;
        seg.batches += group.length;
        for (const p of group) seg.counts = addCounts(seg.counts, p.counts);
      } catch (e) {
        // this group is refused, never acknowledged; later requests try again (a full disk may get space back)
        // unless the segment could not be rolled back, which fails every later append too
        const target = this.handle ? path.join(this.dir, this.segments.at(-1)!.file) : this.dir;
        const err = writeError(e, target, "every acknowledged request is kept; this request was not saved");
        for (const p of group) p.reject(err);
        this.queuedBytes -= group.reduce((n, p) => n + p.bytes, 0);
        if (this.failure) {
          for (const p of this.queue) p.reject(this.failure);
          this.queue = [];
          this.queuedBytes = 0;
          return;
        }
        continue;
      }
      group.forEach((p, i) => {
        this.queuedBytes -= p.bytes;
        p.resolve(batches[i]!);
      });
    }
  }

  /**
   * Cuts the active segment back to its committed bytes after a failed write (a partial write may hold whole
   * records and batch lines of requests that are now refused: left there, a restart would count them). If that
   * fails too, the store fails every later append: its tail cannot be trusted until a restart recovers it.
   */
  private async rollBack(h: FileHandle, seg: SegmentInfo, cause: unknown): Promise<void> {
    try {
      await h.truncate(seg.bytes);
      await h.sync();
    } catch {
      this.failure = writeError(
        cause,
        path.join(this.dir, seg.file),
        "the segment's tail could not be cut back; restart collect to recover it (unacknowledged records are dropped)",
      );
    }
  }

  private async startSegment(): Promise<void> {
    const last =
      this.segments.length > 0
        ? Number(SEGMENT_RE.exec(this.segments[this.segments.length - 1]!.file)![1])
        : 0;
    const file = segmentName(last + 1);
    this.handle = await openAsync(
      path.join(this.dir, file),
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND | NOFOLLOW,
      0o644,
    );
    this.segments.push({ file, bytes: 0, batches: 0, closed: false, counts: emptyCounts() });
    try {
      fsyncDir(this.dir);
      writeIndexAtomic(this.dir, this.index());
    } catch (e) {
      // the new segment holds nothing yet: remove it rather than leave an empty file next to the old index
      await this.handle.close();
      this.handle = null;
      this.segments.pop();
      rmSync(path.join(this.dir, file), { force: true });
      throw e;
    }
  }

  private async rotate(): Promise<void> {
    await this.handle!.close();
    this.handle = null;
    this.segments[this.segments.length - 1]!.closed = true;
    await this.startSegment();
  }

  /** Waits for queued appends, closes the active segment, writes the index and releases the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.flushing) await this.flushing;
    this.closed = true;
    if (this.handle) await this.handle.close();
    this.handle = null;
    const active = this.segments[this.segments.length - 1];
    if (active) active.closed = true;
    writeIndexAtomic(this.dir, this.index());
    rmSync(path.join(this.dir, LOCK_FILE), { force: true });
  }
}

function lastSeqOf(bytes: Buffer): number {
  return scanSegment(bytes).lastSeq;
}
