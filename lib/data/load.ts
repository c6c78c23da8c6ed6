import { isUtf8 } from "node:buffer";
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "../util/atomic-write";
import type { z } from "zod";
import { RouterlabError } from "../util/errors";
import { outDir, projectRoot } from "../util/paths";
import { issueKeyPath } from "../util/zod-error";

/** What a loader did with a file: rows read = rows accepted + rows quarantined, always. */
export interface LoadReport {
  file: string;
  format: string;
  rowsRead: number;
  rowsAccepted: number;
  rowsQuarantined: number;
  /** Set when at least one row was quarantined. */
  quarantineFile?: string;
  warnings: string[];
}

/** One rejected row, as written (one JSON object per line) to the quarantine file. */
export interface QuarantineRow {
  file: string;
  /** 1-based line where the row starts; null when only a JSON path is known. */
  line: number | null;
  /** JSON path of the row, e.g. `$[12]`, when known. */
  path?: string;
  field: string;
  reason: string;
  /** The raw row text (cut to 2,000 characters). */
  raw: string;
}

export interface Loaded<T> {
  rows: T[];
  report: LoadReport;
}

export interface LoadOptions {
  /** Folder for quarantine files; default `out/quarantine/` (ROUTERLAB_OUT_DIR honoured). */
  quarantineDir?: string;
  /** Rows (lines / CSV records) longer than this many characters are quarantined. Default 8 MiB. */
  maxRowChars?: number;
}

export const DEFAULT_MAX_ROW_CHARS = 8 * 1024 * 1024;
/**
 * A row (JSONL line, JSON array element, trace span) whose arrays/objects nest deeper than this is quarantined:
 * schema checks and JSON.stringify recurse, and a hostile row must not overflow the stack and fail its file.
 */
export const MAX_NESTING_DEPTH = 100;
const RAW_LIMIT = 2000;

/** A row-level problem: the loader catches it and quarantines the row. */
export class RowError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`field '${field}': ${reason}`);
  }
}

/** Collects the accepted/quarantined counts of one file and writes its quarantine file. */
export class LoadTracker {
  readonly report: LoadReport;
  private readonly quarantined: QuarantineRow[] = [];

  constructor(
    readonly file: string,
    format: string,
    private readonly opts: LoadOptions = {},
  ) {
    this.report = { file, format, rowsRead: 0, rowsAccepted: 0, rowsQuarantined: 0, warnings: [] };
  }

  accept(): void {
    this.report.rowsRead++;
    this.report.rowsAccepted++;
  }

  quarantine(row: Omit<QuarantineRow, "file" | "raw"> & { raw: string }): void {
    this.report.rowsRead++;
    this.report.rowsQuarantined++;
    this.quarantined.push({
      file: this.file,
      ...row,
      raw: row.raw.length > RAW_LIMIT ? row.raw.slice(0, RAW_LIMIT) + "…" : row.raw,
    });
  }

  warn(msg: string): void {
    this.report.warnings.push(msg);
  }

  /** Writes the quarantine file (if any row was quarantined) and returns the report. */
  finish(): LoadReport {
    const r = this.report;
    if (r.rowsRead !== r.rowsAccepted + r.rowsQuarantined) {
      throw new Error(`internal: ${this.file}: read ${r.rowsRead} != accepted + quarantined`);
    }
    if (this.quarantined.length > 0) {
      const dir = this.opts.quarantineDir ?? path.join(outDir(), "quarantine");
      const qf = path.join(dir, quarantineName(this.file));
      writeFileAtomic(qf, this.quarantined.map((q) => JSON.stringify(q)).join("\n") + "\n");
      r.quarantineFile = qf;
      r.warnings.push(`${this.quarantined.length} row(s) quarantined to ${qf}`);
    }
    return r;
  }

  get quarantineRows(): readonly QuarantineRow[] {
    return this.quarantined;
  }
}

function quarantineName(file: string): string {
  let rel = path.relative(projectRoot(), path.resolve(file));
  if (rel.startsWith("..")) rel = path.resolve(file);
  return rel.replace(/^[/\\]+/, "").replace(/[/\\:]+/g, "__") + ".quarantine.jsonl";
}

/**
 * Reads a text file as UTF-8 (a UTF-8 BOM is dropped; UTF-16 with a BOM is decoded, with a
 * warning). Empty files and invalid UTF-8 are errors naming the file and line.
 */
export function readText(file: string, tracker?: LoadTracker): string {
  let buf: Buffer;
  try {
    if (statSync(file).isDirectory()) throw new RouterlabError("is a directory, expected a file", { file });
    buf = readFileSync(file);
  } catch (e) {
    if (e instanceof RouterlabError) throw e;
    throw new RouterlabError(`cannot read: ${(e as Error).message}`, { file });
  }
  if (buf.length === 0)
    throw new RouterlabError("file is empty", { file }, "check the path and the export step");
  if (buf[0] === 0xff && buf[1] === 0xfe) {
    tracker?.warn("decoded as UTF-16LE (BOM)");
    return buf.subarray(2).toString("utf16le");
  }
  if (buf[0] === 0xfe && buf[1] === 0xff) {
    tracker?.warn("decoded as UTF-16BE (BOM)");
    const sw = Buffer.from(buf.subarray(2));
    sw.swap16();
    return sw.toString("utf16le");
  }
  let text: string;
  if (isUtf8(buf)) {
    text = buf.toString("utf8");
  } else {
    const bad = firstInvalidUtf8(buf);
    const line = buf.subarray(0, bad).toString("latin1").split("\n").length;
    throw new RouterlabError(
      `not valid UTF-8 (byte 0x${buf[bad]?.toString(16).padStart(2, "0")} at offset ${bad})`,
      { file, line },
      "re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
    );
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === "") throw new RouterlabError("file has only whitespace", { file });
  return text;
}

function firstInvalidUtf8(buf: Buffer): number {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    const n =
      b < 0x80 ? 0 : b >= 0xc2 && b < 0xe0 ? 1 : b >= 0xe0 && b < 0xf0 ? 2 : b >= 0xf0 && b < 0xf5 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) if (((buf[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return 0;
}

// ---------------------------------------------------------------- JSON lines

export interface JsonLine {
  line: number;
  raw: string;
  value: unknown;
}

/**
 * JSON Lines: one value per non-blank line. A line that does not parse (truncated, NaN, ...) or is
 * too long is quarantined. Python's bare NaN/Infinity parse as strings-free non-finite numbers so
 * the schema can name the field that holds them.
 */
export function readJsonLines(file: string, tracker: LoadTracker, opts: LoadOptions = {}): JsonLine[] {
  const text = readText(file, tracker);
  const max = opts.maxRowChars ?? DEFAULT_MAX_ROW_CHARS;
  const out: JsonLine[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, "");
    if (raw.trim() === "") continue;
    if (raw.length > max) {
      tracker.quarantine({
        line: i + 1,
        field: "(line)",
        reason: `line has ${raw.length} characters, over the limit ${max}`,
        raw,
      });
      continue;
    }
    let value: unknown;
    try {
      value = parseJsonLenient(raw);
    } catch (e) {
      tracker.quarantine({
        line: i + 1,
        field: "(line)",
        reason: `invalid JSON: ${(e as Error).message}`,
        raw,
      });
      continue;
    }
    if (nestedTooDeep(value)) {
      tracker.quarantine({ line: i + 1, field: "(line)", reason: TOO_DEEP, raw });
      continue;
    }
    out.push({ line: i + 1, raw, value });
  }
  return out;
}

export const TOO_DEEP = `nested deeper than ${MAX_NESTING_DEPTH} levels`;

/** Whether arrays/objects in `value` nest deeper than `max` (iterative: safe on any depth). */
export function nestedTooDeep(value: unknown, max = MAX_NESTING_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (d + 1 > max) return true;
    for (const x of Array.isArray(v) ? v : Object.values(v))
      if (x !== null && typeof x === "object") stack.push([x, d + 1]);
  }
  return false;
}

/** JSON text of a parsed row for the quarantine file; never throws (a too-deep value gets a placeholder). */
export function rawJson(value: unknown): string {
  if (nestedTooDeep(value)) return `(${TOO_DEEP}; not shown)`;
  return JSON.stringify(value) ?? "";
}

/** JSON.parse that also accepts Python's bare NaN / Infinity / -Infinity tokens (as non-finite numbers). */
export function parseJsonLenient(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    if (!/\b(NaN|Infinity)\b/.test(text)) throw e;
    const marked = replaceOutsideStrings(text);
    if (marked === text) throw e;
    // no reviver: V8 walks a reviver recursively, which a deeply nested document would overflow
    return unmark(JSON.parse(marked) as unknown);
  }
}

const MARKS = new Map<unknown, number>([
  ["\u0000NaN", NaN],
  ["\u0000Infinity", Infinity],
  ["\u0000-Infinity", -Infinity],
]);

/** Turns the marker strings of `replaceOutsideStrings` back into non-finite numbers (iteratively). */
function unmark(root: unknown): unknown {
  if (MARKS.has(root)) return MARKS.get(root);
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== "object") continue;
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      const x = o[k];
      if (typeof x === "string") {
        if (MARKS.has(x)) o[k] = MARKS.get(x);
      } else if (x !== null && typeof x === "object") stack.push(x);
    }
  }
  return root;
}

function replaceOutsideStrings(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const m = /^(-?Infinity|NaN)/.exec(text.slice(i, i + 9));
    if (m && !/[\w]/.test(text[i - 1] ?? "")) {
      out += `"\\u0000${m[1]}"`;
      i += m[1]!.length;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

// ---------------------------------------------------------------- JSON documents

/** A whole JSON document. A syntax error (e.g. a truncated file) is an error naming the line. */
export function readJsonDocument(file: string, tracker?: LoadTracker): { text: string; value: unknown } {
  const text = readText(file, tracker);
  try {
    return { text, value: parseJsonLenient(text) };
  } catch (e) {
    const msg = (e as Error).message;
    const pos = /position (\d+)/.exec(msg)?.[1];
    const line = pos !== undefined ? text.slice(0, Number(pos)).split("\n").length : lineOfEnd(text, msg);
    throw new RouterlabError(`invalid JSON (${msg})`, { file, line }, "is the file truncated or not JSON?");
  }
}

function lineOfEnd(text: string, msg: string): number | undefined {
  return /end of JSON input|Unterminated/.test(msg) ? text.split("\n").length : undefined;
}

/** 1-based start lines of the elements of a top-level JSON array (scanned, not parsed). */
export function arrayElementLines(text: string): number[] {
  return arrayElementSpans(text).map((s) => s.line);
}

/** Where each element of a top-level JSON array starts (line, offset) and ends (offset after its last character). */
export interface ElementSpan {
  line: number;
  start: number;
  end: number;
}

/** The elements of a top-level JSON array, scanned without parsing (iterative: safe on any depth). */
export function arrayElementSpans(text: string): ElementSpan[] {
  const spans: ElementSpan[] = [];
  let line = 1;
  let depth = 0;
  let expectingElement = false;
  let lastEnd = 0;
  const close = () => {
    const s = spans[spans.length - 1];
    if (s && s.end < 0) s.end = lastEnd;
  };
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      line++;
      continue;
    }
    if (c === 32 || c === 9 || c === 13) continue;
    if (depth === 1 && (c === 44 || c === 93)) close();
    if (depth === 1 && expectingElement && c !== 93 /* ] */) {
      spans.push({ line, start: i, end: -1 });
      expectingElement = false;
    }
    if (c === 34 /* " */) {
      // JSON strings hold no raw newlines: jump to the closing quote (not preceded by an odd run of \)
      let q = text.indexOf('"', i + 1);
      for (;;) {
        if (q < 0) return spans;
        let b = q - 1;
        while (text.charCodeAt(b) === 92) b--;
        if ((q - 1 - b) % 2 === 0) break;
        q = text.indexOf('"', q + 1);
      }
      i = q;
      lastEnd = q + 1;
      continue;
    }
    if (c === 91 /* [ */ || c === 123 /* { */) {
      depth++;
      if (depth === 1 && c === 91) expectingElement = true;
    } else if (c === 93 || c === 125) {
      depth--;
    } else if (c === 44 /* , */ && depth === 1) {
      expectingElement = true;
    }
    lastEnd = i + 1;
  }
  close();
  return spans;
}

export interface JsonArrayRow {
  index: number;
  line: number | null;
  raw: string;
  value: unknown;
}

/**
 * The elements of a parsed top-level JSON array as rows, with the same limits as JSON Lines: an element longer than
 * `maxRowChars` or nested deeper than MAX_NESTING_DEPTH is quarantined (with its line and `$[i]`).
 */
export function jsonArrayRows(
  text: string,
  value: readonly unknown[],
  tracker: LoadTracker,
  opts: LoadOptions = {},
): JsonArrayRow[] {
  const max = opts.maxRowChars ?? DEFAULT_MAX_ROW_CHARS;
  const spans = arrayElementSpans(text);
  const aligned = spans.length === value.length;
  const out: JsonArrayRow[] = [];
  value.forEach((el, i) => {
    const span = aligned ? spans[i]! : undefined;
    const line = span ? span.line : null;
    const raw = span ? text.slice(span.start, span.end) : rawJson(el);
    const where = { line, path: `$[${i}]`, field: "(row)", raw };
    if (raw.length > max)
      tracker.quarantine({ ...where, reason: `element has ${raw.length} characters, over the limit ${max}` });
    else if (nestedTooDeep(el)) tracker.quarantine({ ...where, reason: TOO_DEEP });
    else out.push({ index: i, line, raw, value: el });
  });
  return out;
}

// ---------------------------------------------------------------- CSV

export interface CsvRecord {
  /** 1-based line where the record starts. */
  line: number;
  raw: string;
  cells: Map<string, string>;
}

/**
 * RFC 4180 CSV (quoted fields may hold newlines and ""); the first record is the header. Missing
 * required columns are an error naming the column; a record with the wrong number of cells, an
 * unterminated quote or over-long text is quarantined.
 */
export function readCsv(
  file: string,
  tracker: LoadTracker,
  required: readonly string[],
  opts: LoadOptions = {},
): { header: string[]; records: CsvRecord[] } {
  const text = readText(file, tracker);
  const max = opts.maxRowChars ?? DEFAULT_MAX_ROW_CHARS;
  const records = splitCsv(text);
  const head = records.shift();
  if (!head || head.error) throw new RouterlabError("no CSV header", { file, line: 1 });
  const header = head.cells.map((h) => h.trim());
  for (const col of required) {
    if (!header.includes(col)) {
      throw new RouterlabError(`missing column '${col}' (header: ${header.join(", ")})`, {
        file,
        line: 1,
        field: col,
      });
    }
  }
  const seen = new Set<string>();
  for (const h of header) {
    if (seen.has(h)) tracker.warn(`duplicate column '${h}' in the header: the last one is used`);
    seen.add(h);
  }
  const out: CsvRecord[] = [];
  for (const r of records) {
    if (r.error) {
      tracker.quarantine({ line: r.line, field: "(record)", reason: r.error, raw: r.raw });
    } else if (r.raw.length > max) {
      tracker.quarantine({
        line: r.line,
        field: "(record)",
        reason: `record has ${r.raw.length} characters, over the limit ${max}`,
        raw: r.raw,
      });
    } else if (r.cells.length !== header.length) {
      tracker.quarantine({
        line: r.line,
        field: "(record)",
        reason: `has ${r.cells.length} cells, the header has ${header.length}`,
        raw: r.raw,
      });
    } else {
      const cells = new Map<string, string>();
      header.forEach((h, i) => cells.set(h, r.cells[i]!));
      out.push({ line: r.line, raw: r.raw, cells });
    }
  }
  return { header, records: out };
}

interface RawRecord {
  line: number;
  raw: string;
  cells: string[];
  error?: string;
}

export function splitCsv(text: string): RawRecord[] {
  const out: RawRecord[] = [];
  const n = text.length;
  let i = 0;
  let line = 1;
  while (i < n) {
    const start = i;
    const startLine = line;
    const cells: string[] = [];
    let error: string | undefined;
    let endOfRecord = false;
    while (!endOfRecord) {
      let cell = "";
      if (text.charCodeAt(i) === 34 /* " */) {
        // quoted field: copy chunks up to each quote
        i++;
        let closed = false;
        for (;;) {
          const q = text.indexOf('"', i);
          if (q < 0) {
            cell += text.slice(i);
            line += countNewlines(text, i, n);
            i = n;
            break;
          }
          cell += text.slice(i, q);
          line += countNewlines(text, i, q);
          if (text.charCodeAt(q + 1) === 34) {
            cell += '"';
            i = q + 2;
            continue;
          }
          i = q + 1;
          closed = true;
          break;
        }
        if (!closed) {
          error = "unterminated quoted field";
          cells.push(cell);
          break;
        }
        // text after a closing quote up to the delimiter is kept, as Python's csv does
      }
      // unquoted part (or the rest after a closing quote) up to , or end of line
      let k = i;
      while (k < n) {
        const c = text.charCodeAt(k);
        if (c === 44 || c === 10 || c === 13) break;
        k++;
      }
      cell += text.slice(i, k);
      cells.push(cell);
      if (k >= n) {
        i = n;
        endOfRecord = true;
      } else if (text.charCodeAt(k) === 44) {
        i = k + 1;
        if (i >= n) {
          cells.push("");
          endOfRecord = true;
        }
      } else {
        i = text.charCodeAt(k) === 13 && text.charCodeAt(k + 1) === 10 ? k + 2 : k + 1;
        line++;
        endOfRecord = true;
      }
    }
    const raw = text.slice(start, i).replace(/\r?\n$/, "");
    if (raw === "" && cells.length === 1 && cells[0] === "") continue; // blank line
    out.push({ line: startLine, raw, cells, ...(error ? { error } : {}) });
  }
  return out;
}

function countNewlines(text: string, from: number, to: number): number {
  let c = 0;
  for (let p = text.indexOf("\n", from); p >= 0 && p < to; p = text.indexOf("\n", p + 1)) c++;
  return c;
}

// ---------------------------------------------------------------- schema helpers

/** Validates a value with zod; on failure throws a RowError naming the first failing field. */
export function parseRow<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new RowError(issueKeyPath(issue).map(String).join(".") || "(row)", issue.message);
}

/** Parses a CSV boolean cell (True/False/true/false/1/0). */
export function csvBool(value: string | undefined, field: string): boolean {
  const v = (value ?? "").trim();
  if (v === "True" || v === "true" || v === "TRUE" || v === "1") return true;
  if (v === "False" || v === "false" || v === "FALSE" || v === "0") return false;
  throw new RowError(field, `expected True/False, got '${v.slice(0, 40)}'`);
}

/** Runs the row function; RowErrors become quarantined rows, anything else propagates. */
export function guardRow<T>(
  tracker: LoadTracker,
  where: { line: number | null; path?: string; raw: string },
  fn: () => T,
): T | undefined {
  try {
    const v = fn();
    tracker.accept();
    return v;
  } catch (e) {
    if (e instanceof RowError) {
      tracker.quarantine({ ...where, field: e.field, reason: e.reason });
      return undefined;
    }
    throw e;
  }
}

/** The rows of a JSON Lines file that `parse` accepts; a line where it throws a RowError is quarantined. */
export function guardedJsonLines<T>(
  file: string,
  tracker: LoadTracker,
  opts: LoadOptions,
  parse: (l: JsonLine) => T,
): T[] {
  const out: T[] = [];
  for (const l of readJsonLines(file, tracker, opts)) {
    const v = guardRow(tracker, { line: l.line, raw: l.raw }, () => parse(l));
    if (v !== undefined) out.push(v);
  }
  return out;
}
