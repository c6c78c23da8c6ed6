/**
 * Content-addressed on-disk response cache: every answer is paid for once.
 *
 * Layout: `<root>/llm/seg-<time>-<pid>-<random>.jsonl`. Each process appends to a segment of its own (created on
 * its first write), one line per response, written with a single write() as soon as the response arrives:
 *
 *   <crc32 of the JSON, 8 hex> <JSON of CacheEntry>\n
 *
 * Opening the cache scans every segment once into an in-memory index (key -> segment, offset, length); a hit reads
 * one line back with pread. A line with a bad checksum or no newline (a writer killed mid-write) is skipped, so
 * SIGKILL at any moment loses at most the response being written, and concurrent processes never share a file.
 */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { crc32 } from "node:zlib";
import { z } from "zod";
import { sha256Hex } from "../util/hash";
import { cacheDir } from "../util/paths";
import type { ChatMessage } from "./types";

export const cacheEntrySchema = z.object({
  /** The cache key (sha256 hex). */
  k: z.string().regex(/^[0-9a-f]{64}$/),
  model: z.string(),
  modelId: z.string(),
  text: z.string(),
  finishReason: z.string().nullable(),
  usage: z.object({
    promptTokens: z.number().int().nonnegative(),
    completionTokens: z.number().int().nonnegative(),
  }),
  /** USD the original call cost. */
  costUsd: z.number().nonnegative(),
  /** ISO time the response was received. */
  ts: z.string(),
});
export type CacheEntry = z.infer<typeof cacheEntrySchema>;

/** What identifies a response: the endpoint, the provider's model id and the full request. Never the API key. */
export interface CacheKeyInput {
  readonly baseUrl: string;
  readonly modelId: string;
  readonly messages: readonly ChatMessage[];
  readonly temperature?: number;
  readonly maxTokens?: number;
  readonly seed?: number;
}

/** JSON with object keys sorted and undefined members dropped, so equal requests hash equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(",")}]`;
  const parts: string[] = [];
  for (const k of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== undefined) parts.push(`${JSON.stringify(k)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(",")}}`;
}

export function cacheKey(input: CacheKeyInput): string {
  // Keys in sorted order and undefined members dropped by JSON.stringify: the same text as canonicalJson, built
  // without the generic walk (this is on every call's path).
  return sha256Hex(
    JSON.stringify({
      baseUrl: input.baseUrl.replace(/\/+$/, ""),
      maxTokens: input.maxTokens,
      messages: input.messages.map((m) => ({ content: m.content, role: m.role })),
      modelId: input.modelId,
      seed: input.seed,
      temperature: input.temperature,
    }),
  );
}

export interface ResponseCacheStats {
  segments: number;
  entries: number;
  /** Lines skipped at open: bad checksum, unparsable, or a torn final line. */
  skippedLines: number;
  hits: number;
  misses: number;
  writes: number;
}

interface Loc {
  fd: number;
  off: number;
  len: number;
}

export function defaultLlmCacheDir(): string {
  return path.join(cacheDir(), "llm");
}

export class ResponseCache {
  readonly dir: string;
  private readonly fds: number[] = [];
  private readonly index = new Map<string, Loc>();
  private writeFd: number | null = null;
  private writeOff = 0;
  private closed = false;
  private readonly counts: ResponseCacheStats = {
    segments: 0,
    entries: 0,
    skippedLines: 0,
    hits: 0,
    misses: 0,
    writes: 0,
  };

  /** Opens (creating if needed) the cache under `dir` (default `.cache/llm`) and indexes every segment. */
  constructor(dir: string = defaultLlmCacheDir()) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith("seg-") && name.endsWith(".jsonl")) this.indexSegment(path.join(dir, name));
    }
  }

  private indexSegment(file: string): void {
    let fd: number;
    try {
      fd = openSync(file, "r");
    } catch {
      return; // removed by someone else between readdir and open
    }
    if (!fstatSync(fd).isFile()) {
      closeSync(fd);
      process.emitWarning(`LLM cache: ${file} is not a regular file; skipped`);
      return;
    }
    this.fds.push(fd);
    this.counts.segments++;
    const buf = readFileSync(file);
    let start = 0;
    while (start < buf.length) {
      const nl = buf.indexOf(10, start);
      if (nl < 0) {
        this.counts.skippedLines++; // torn tail: a writer died mid-line
        break;
      }
      const key = checkedKey(buf, start, nl);
      if (key === null) this.counts.skippedLines++;
      else if (!this.index.has(key)) this.index.set(key, { fd, off: start, len: nl - start });
      start = nl + 1;
    }
  }

  get size(): number {
    return this.index.size;
  }

  has(key: string): boolean {
    return this.index.has(key);
  }

  get(key: string): CacheEntry | undefined {
    const loc = this.index.get(key);
    if (!loc) {
      this.counts.misses++;
      return undefined;
    }
    const buf = Buffer.allocUnsafe(loc.len);
    readSync(loc.fd, buf, 0, loc.len, loc.off);
    this.counts.hits++;
    return JSON.parse(buf.toString("utf8", 9)) as CacheEntry;
  }

  /** Appends an entry with one write(); it is on disk (in the page cache) when this returns. */
  put(entry: CacheEntry): void {
    if (this.closed) throw new Error("response cache is closed");
    if (this.index.has(entry.k)) return;
    const json = JSON.stringify(cacheEntrySchema.parse(entry));
    const line = Buffer.from(`${crcHex(json)} ${json}\n`, "utf8");
    if (this.writeFd === null) {
      const name = `seg-${Date.now().toString(36)}-${process.pid}-${randomBytes(4).toString("hex")}.jsonl`;
      this.writeFd = openSync(path.join(this.dir, name), "a+");
      this.fds.push(this.writeFd);
      this.counts.segments++;
    }
    let done = 0;
    while (done < line.length) done += writeSync(this.writeFd, line, done, line.length - done);
    this.index.set(entry.k, { fd: this.writeFd, off: this.writeOff, len: line.length - 1 });
    this.writeOff += line.length;
    this.counts.writes++;
  }

  stats(): ResponseCacheStats {
    return { ...this.counts, entries: this.index.size };
  }

  /** fsyncs the segment this process wrote (durability across power loss, not needed for SIGKILL). */
  flush(): void {
    if (this.writeFd !== null && !this.closed) fsyncSync(this.writeFd);
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    for (const fd of this.fds) closeSync(fd);
    this.fds.length = 0;
  }
}

function crcHex(json: string): string {
  return (crc32(Buffer.from(json, "utf8")) >>> 0).toString(16).padStart(8, "0");
}

/** The key of a well-formed, checksummed line in buf[start, end), or null. */
function checkedKey(buf: Buffer, start: number, end: number): string | null {
  if (end - start < 10 || buf[start + 8] !== 32) return null;
  const json = buf.subarray(start + 9, end);
  const want = Number.parseInt(buf.toString("latin1", start, start + 8), 16);
  if (crc32(json) >>> 0 !== want) return null;
  try {
    const parsed = cacheEntrySchema.safeParse(JSON.parse(json.toString("utf8")));
    return parsed.success ? parsed.data.k : null;
  } catch {
    return null;
  }
}
