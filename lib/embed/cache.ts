import { randomBytes, createHash } from "node:crypto";
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, writeSync } from "node:fs";
import path from "node:path";
import { crc32 } from "node:zlib";
import { cacheDir as defaultCacheRoot } from "../util/paths";
import type { EmbeddingSpec } from "./types";
import { writeFileAtomic } from "../util/atomic-write";

/**
 * Persistent, content-addressed embedding cache.
 *
 * Layout: `<root>/embeddings/<specKey>/seg-<random>-<pid>.bin`, where specKey hashes every property of the
 * EmbeddingSpec (model id, weights sha256, precision, max length, pooling, normalisation, dim). Each
 * segment is append-only and written by exactly one process (a writer always creates a fresh segment),
 * as fixed-size records:
 *
 *   magic u32 LE "RLE1" | key: sha256(text) 32 bytes | dim x float32 LE | crc32 of all preceding bytes u32 LE
 *
 * A batch of records is written with one write() on an O_APPEND descriptor. On open every segment is
 * scanned: records with a bad magic or checksum are skipped and a truncated tail (a killed writer) is
 * ignored, so readers never see a torn entry and concurrent writers never interleave within a file.
 */
const MAGIC = 0x31454c52; // "RLE1" little-endian

export function specKey(spec: EmbeddingSpec): string {
  const canon = JSON.stringify([
    spec.modelId,
    spec.weightsSha256,
    spec.precision,
    spec.maxLength,
    spec.pooling,
    spec.normalize,
    spec.dim,
  ]);
  return createHash("sha256").update(canon).digest("hex").slice(0, 24);
}

/** The cache key of a text: sha256 of its exact UTF-8 bytes (the spec is part of the directory). */
export function textKey(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

interface Loc {
  seg: number;
  off: number;
}

export interface CacheStats {
  segments: number;
  entries: number;
  skippedCorrupt: number;
  truncatedBytes: number;
}

export class EmbeddingCache {
  readonly dir: string;
  readonly dim: number;
  readonly recordSize: number;
  private readonly fds: number[] = [];
  private readonly index = new Map<string, Loc>();
  private writeFd: number | null = null;
  private writeSeg = -1;
  private writeOff = 0;
  private stats: CacheStats = { segments: 0, entries: 0, skippedCorrupt: 0, truncatedBytes: 0 };

  constructor(spec: EmbeddingSpec, root: string = defaultCacheRoot()) {
    this.dim = spec.dim;
    this.recordSize = 4 + 32 + spec.dim * 4 + 4;
    this.dir = path.join(root, "embeddings", specKey(spec));
    mkdirSync(this.dir, { recursive: true });
    const specFile = path.join(this.dir, "spec.json");
    writeFileAtomic(specFile, JSON.stringify(spec, null, 2) + "\n");
    this.scan();
  }

  private scan(): void {
    const files = readdirSync(this.dir)
      .filter((f) => f.startsWith("seg-") && f.endsWith(".bin"))
      .sort();
    const rs = this.recordSize;
    const chunkRecords = 256;
    const buf = Buffer.alloc(rs * chunkRecords);
    for (const f of files) {
      const fd = openSync(path.join(this.dir, f), "r");
      if (!fstatSync(fd).isFile()) {
        closeSync(fd);
        process.emitWarning(`embedding cache: ${path.join(this.dir, f)} is not a regular file; skipped`);
        continue;
      }
      const seg = this.fds.length;
      this.fds.push(fd);
      this.stats.segments++;
      const size = fstatSync(fd).size;
      const whole = size - (size % rs);
      this.stats.truncatedBytes += size - whole;
      for (let pos = 0; pos < whole; pos += buf.length) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, whole - pos), pos);
        for (let o = 0; o + rs <= n; o += rs) {
          if (
            buf.readUInt32LE(o) !== MAGIC ||
            crc32(buf.subarray(o, o + rs - 4)) !== buf.readUInt32LE(o + rs - 4)
          ) {
            this.stats.skippedCorrupt++;
            continue;
          }
          const key = buf.toString("hex", o + 4, o + 36);
          if (!this.index.has(key)) this.index.set(key, { seg, off: pos + o });
        }
      }
    }
    this.stats.entries = this.index.size;
  }

  get size(): number {
    return this.index.size;
  }

  info(): CacheStats {
    return { ...this.stats, entries: this.index.size };
  }

  has(key: Buffer): boolean {
    return this.index.has(key.toString("hex"));
  }

  /** Copies the cached vector for `key` into `out` at `outOffset` (floats); false on a miss. */
  readInto(key: Buffer, out: Float32Array, outOffset: number): boolean {
    const loc = this.index.get(key.toString("hex"));
    if (!loc) return false;
    const bytes = Buffer.from(out.buffer, out.byteOffset + outOffset * 4, this.dim * 4);
    const n = readSync(this.fds[loc.seg]!, bytes, 0, bytes.length, loc.off + 36);
    if (n !== bytes.length) throw new Error(`embedding cache segment shrank under us (${this.dir})`);
    return true;
  }

  /** Appends records with ONE write on this process's own O_APPEND segment. */
  append(keys: readonly Buffer[], vectors: Float32Array): void {
    if (keys.length === 0) return;
    if (vectors.length !== keys.length * this.dim) throw new Error("append: vectors/keys length mismatch");
    const rs = this.recordSize;
    const buf = Buffer.alloc(rs * keys.length);
    const vecBytes = Buffer.from(vectors.buffer, vectors.byteOffset, vectors.byteLength);
    keys.forEach((k, i) => {
      const o = i * rs;
      buf.writeUInt32LE(MAGIC, o);
      k.copy(buf, o + 4);
      vecBytes.copy(buf, o + 36, i * this.dim * 4, (i + 1) * this.dim * 4);
      buf.writeUInt32LE(crc32(buf.subarray(o, o + rs - 4)), o + rs - 4);
    });
    if (this.writeFd === null) {
      const name = `seg-${Date.now().toString(36)}-${randomBytes(6).toString("hex")}-${process.pid}.bin`;
      const file = path.join(this.dir, name);
      this.writeFd = openSync(file, "a+");
      this.writeSeg = this.fds.length;
      this.fds.push(this.writeFd);
      this.stats.segments++;
    }
    let written = 0;
    while (written < buf.length) written += writeSync(this.writeFd, buf, written, buf.length - written);
    keys.forEach((k, i) => {
      const key = k.toString("hex");
      if (!this.index.has(key)) this.index.set(key, { seg: this.writeSeg, off: this.writeOff + i * rs });
    });
    this.writeOff += buf.length;
  }

  close(): void {
    for (const fd of this.fds) closeSync(fd);
    this.fds.length = 0;
    this.writeFd = null;
    this.index.clear();
  }
}
