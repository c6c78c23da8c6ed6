import {
  appendFileSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
} from "node:fs";
import { appendFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { RouterlabError } from "../util/errors";
import { outDir } from "../util/paths";
import { RunStatusSchema } from "./schemas";
import { parseWith } from "../util/zod-error";
import { readJson } from "../util/read-files";
import { env } from "../util/env";

/**
 * The local run journal: every tracking call is appended here first, so the main job works with no
 * server and nothing is lost when one goes away. Layout of one run (`<root>/<localRunId>/`):
 *   run.json       who/what/when, written once
 *   events.jsonl   one event per line, with a strictly increasing sequence number `s`
 *   files/         copies of logged artifacts (uploaded on sync)
 *   sync-<server>.json  per-server sync cursor written by `routerlab tracking sync`
 */

export function journalRoot(): string {
  return env().ROUTERLAB_TRACKING_DIR ?? path.join(outDir(), "mlruns-journal");
}

export const RunMetaSchema = z.object({
  format: z.literal(1),
  localRunId: z.string(),
  experiment: z.string(),
  runName: z.string(),
  startTime: z.number(),
  artifactLocation: z.string().optional(),
});
export type RunMeta = z.infer<typeof RunMetaSchema>;

const MetricValue = z.union([z.number(), z.enum(["NaN", "Infinity", "-Infinity"])]);

export const DatasetSchema = z.object({
  name: z.string(),
  digest: z.string(),
  sourceType: z.string(),
  source: z.string(),
  schema: z.string().optional(),
  profile: z.string().optional(),
  context: z.string().optional(),
});
export type JournalDataset = z.infer<typeof DatasetSchema>;

export const JournalEventSchema = z.discriminatedUnion("t", [
  z.object({
    s: z.number(),
    t: z.literal("m"),
    k: z.string(),
    v: MetricValue,
    ts: z.number(),
    st: z.number(),
  }),
  z.object({ s: z.number(), t: z.literal("p"), k: z.string(), v: z.string() }),
  z.object({ s: z.number(), t: z.literal("tag"), k: z.string(), v: z.string() }),
  z.object({ s: z.number(), t: z.literal("input"), dataset: DatasetSchema }),
  z.object({
    s: z.number(),
    t: z.literal("artifact"),
    file: z.string(),
    path: z.string(),
    sha256: z.string(),
    size: z.number(),
  }),
  z.object({
    s: z.number(),
    t: z.literal("register"),
    name: z.string(),
    artifactPath: z.string(),
    alias: z.string().optional(),
  }),
  z.object({ s: z.number(), t: z.literal("end"), status: RunStatusSchema, ts: z.number() }),
]);
export type JournalEvent = z.infer<typeof JournalEventSchema>;
export type MetricEvent = Extract<JournalEvent, { t: "m" }>;

export function encodeMetricValue(v: number): number | "NaN" | "Infinity" | "-Infinity" {
  if (Number.isFinite(v)) return v;
  if (Number.isNaN(v)) return "NaN";
  return v > 0 ? "Infinity" : "-Infinity";
}

export function decodeMetricValue(v: number | string): number {
  return typeof v === "number" ? v : Number(v);
}

export function readRunMeta(runDir: string): RunMeta {
  const file = path.join(runDir, "run.json");
  return readJson(file, RunMetaSchema, "run journal");
}

/**
 * Reads a run's events. A torn last line (the process died mid-write) is ignored; any other bad line
 * is an error naming the file and line.
 */
export function readEvents(runDir: string): JournalEvent[] {
  const file = path.join(runDir, "events.jsonl");
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, "utf8").split("\n");
  const out: JournalEvent[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.length === 0) continue;
    const isLast = i === lines.length - 1;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      if (isLast) break;
      throw new RouterlabError("corrupt journal line (not JSON)", { file, line: i + 1 });
    }
    out.push(parseWith(JournalEventSchema, json, { file, line: i + 1 }));
  }
  // Async and sync flushes may interleave lines; the sequence number is the truth.
  out.sort((a, b) => a.s - b.s);
  return out.filter((e, i) => i === 0 || e.s !== out[i - 1]!.s);
}

/** Lists the run folders of a journal root (those with a run.json). */
export function listRunDirs(root: string = journalRoot()): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(root, d.name, "run.json")))
    .map((d) => path.join(root, d.name))
    .sort();
}

/**
 * Append-only writer for events.jsonl. `append` is O(1) and never touches the disk (hot path);
 * `flush` writes the buffer asynchronously; `flushSync` writes and fsyncs (end, signals, exit).
 */
export class JournalWriter {
  readonly file: string;
  private buffer: JournalEvent[] = [];
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private failure: Error | undefined;

  constructor(
    readonly runDir: string,
    flushIntervalMs = 200,
  ) {
    mkdirSync(runDir, { recursive: true });
    this.file = path.join(runDir, "events.jsonl");
    if (flushIntervalMs > 0) {
      this.timer = setInterval(() => void this.flush(), flushIntervalMs);
      this.timer.unref();
    }
  }

  append(ev: JournalEvent): void {
    this.buffer.push(ev);
  }

  get pendingCount(): number {
    return this.buffer.length;
  }

  private take(): string {
    if (this.buffer.length === 0) return "";
    const text = this.buffer.map((e) => JSON.stringify(e)).join("\n") + "\n";
    this.buffer = [];
    return text;
  }

  /** Writes buffered events; writes are chained so the file keeps sequence order. */
  flush(): Promise<void> {
    const text = this.take();
    if (text.length > 0) {
      this.writing = this.writing.then(
        () =>
          appendFile(this.file, text).catch((e: unknown) => {
            // Keep the failure visible; the sync path rewrites nothing so the data must not vanish.
            this.failure = e as Error;
            appendFileSync(this.file, text);
          }),
        () => undefined,
      );
    }
    return this.writing;
  }

  /** Synchronous flush plus fsync: used by end(), signal handlers and process exit. */
  flushSync(): void {
    const text = this.take();
    if (text.length > 0) appendFileSync(this.file, text);
    if (existsSync(this.file)) {
      const fd = openSync(this.file, "r+");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    if (this.failure) {
      const f = this.failure;
      this.failure = undefined;
      throw new RouterlabError(`journal write failed earlier: ${f.message}`, { file: this.file });
    }
  }

  /** Waits for in-flight async writes, then flushes synchronously and stops the timer. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
    this.flushSync();
  }

  stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
