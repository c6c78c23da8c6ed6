/**
 * The gateway's query-text function (gateway-contract.md §4). Training and evaluation queries must
 * be built with exactly this, or the router sees different strings than it will in production.
 */

export interface ChatContentPart {
  type?: unknown;
  text?: unknown;
  [key: string]: unknown;
}

export interface ChatMessage {
  role?: unknown;
  content?: unknown;
  [key: string]: unknown;
}

/**
 * Chat requests: every message in order contributes one piece: a string content as is; a list
 * content the `text` of each `type == "text"` part; a missing content "". Anything else (null
 * tool-call content, images, numbers) is skipped. Pieces are joined with one space (empty pieces
 * still add one) and only the two ends of the result are trimmed.
 */
export function chatQueryText(messages: readonly ChatMessage[]): string {
  const pieces: string[] = [];
  for (const m of messages) {
    if (!("content" in m) || m.content === undefined) {
      pieces.push("");
    } else if (typeof m.content === "string") {
      pieces.push(m.content);
    } else if (Array.isArray(m.content)) {
      for (const part of m.content as unknown[]) {
        if (part !== null && typeof part === "object") {
          const p = part as ChatContentPart;
          if (p.type === "text" && typeof p.text === "string") pieces.push(p.text);
        }
      }
    }
    // anything else: skipped
  }
  return pyStrip(pieces.join(" "));
}

/**
 * Completion and embedding requests: `input` as is if it is a string, else its items stringified
 * (Python `str()`) and space-joined. The contract states no trimming for `input`, so none is done.
 */
export function inputQueryText(input: unknown): string {
  if (typeof input === "string") return input;
  if (Array.isArray(input)) return input.map(pyStr).join(" ");
  if (input === undefined || input === null) return "";
  return pyStr(input);
}

/** The query text for a benchmark prompt sent as a single user message. */
export function promptQueryText(prompt: string): string {
  return chatQueryText([{ role: "user", content: prompt }]);
}

/** Python's str.strip() with no arguments: strips Unicode whitespace (incl. \x1c-\x1f, \x85). */
export function pyStrip(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isPyWhitespace(s.charCodeAt(a))) a++;
  while (b > a && isPyWhitespace(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Python's str.isspace() for one UTF-16 unit (all Python whitespace is in the BMP). */
function isPyWhitespace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
  if (c < 0x85) return false;
  return (
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/** str() of a JSON value as Python would print it (for stringified `input` items). */
function pyStr(v: unknown): string {
  if (typeof v === "string") return v;
  return pyRepr(v);
}

function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : pyFloat(v);
  if (typeof v === "string") return pyStringRepr(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(", ")}]`;
  if (typeof v === "object") {
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${pyStringRepr(k)}: ${pyRepr(x)}`)
      .join(", ")}}`;
  }
  return String(v);
}

function pyFloat(v: number): string {
  const s = String(v);
  return s.includes("e") ? s.replace(/e([+-])(\d)$/, "e$10$2") : s;
}

function pyStringRepr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = "";
  for (const ch of s) {
    if (ch === "\\") out += "\\\\";
    else if (ch === q) out += "\\" + q;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)
      out += "\\x" + ch.charCodeAt(0).toString(16).padStart(2, "0");
    else out += ch;
  }
  return q + out + q;
}
