/**
 * A small parser for Python literals as written by `repr()` / `str()` of dicts and lists: dicts,
 * lists, tuples, strings in both quote styles (with escapes and adjacent-literal concatenation),
 * int/float (incl. nan/inf spelled as float('nan') are NOT accepted), True/False/None.
 * No eval. Used for SimpleQA `metadata` and LLMRouter `scores`/`choices`.
 */
export type PyValue = null | boolean | number | string | PyValue[] | { [key: string]: PyValue };

export class PythonLiteralError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at offset ${offset}`);
    this.name = "PythonLiteralError";
  }
}

/** Dicts, lists and tuples nested deeper than this are refused (the parser recurses; a hostile cell must not overflow the stack). */
export const MAX_LITERAL_DEPTH = 100;

export function parsePythonLiteral(text: string): PyValue {
  const p = new Parser(text);
  p.ws();
  const v = p.value();
  p.ws();
  if (p.i < text.length) throw new PythonLiteralError(`unexpected '${text[p.i]}' after the value`, p.i);
  return v;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  n: "\n",
  t: "\t",
  r: "\r",
  b: "\b",
  f: "\f",
  v: "\v",
  a: "\x07",
  "0": "\0",
};

class Parser {
  i = 0;
  private depth = 0;
  constructor(readonly s: string) {}

  ws(): void {
    for (;;) {
      const c = this.s.charCodeAt(this.i);
      if (c === 32 || c === 10 || c === 9 || c === 13 || c === 12 || c === 11) this.i++;
      else return;
    }
  }

  fail(msg: string): never {
    throw new PythonLiteralError(msg, this.i);
  }

  value(): PyValue {
    const c = this.s[this.i];
    if (c === undefined) this.fail("unexpected end of input");
    if (c === "{" || c === "[" || c === "(") {
      if (++this.depth > MAX_LITERAL_DEPTH) this.fail(`nested deeper than ${MAX_LITERAL_DEPTH} levels`);
      const v = c === "{" ? this.dict() : this.list(c === "[" ? "]" : ")");
      this.depth--;
      return v;
    }
    if (c === "'" || c === '"') return this.strings();
    if (/[rRbBuU]/.test(c) && (this.s[this.i + 1] === "'" || this.s[this.i + 1] === '"'))
      return this.strings();
    if (/[-+0-9.]/.test(c)) return this.number();
    const word = /^[A-Za-z_]+/.exec(this.s.slice(this.i, this.i + 16))?.[0];
    if (word === "True" || word === "False" || word === "None") {
      this.i += word.length;
      return word === "True" ? true : word === "False" ? false : null;
    }
    this.fail(`unexpected '${c}' (expected a Python literal)`);
  }

  dict(): { [key: string]: PyValue } {
    this.i++; // {
    const out: { [key: string]: PyValue } = {};
    this.ws();
    while (this.s[this.i] !== "}") {
      const keyAt = this.i;
      const key = this.value();
      if (typeof key !== "string" && typeof key !== "number" && typeof key !== "boolean" && key !== null)
        throw new PythonLiteralError("dict keys must be strings, numbers, booleans or None", keyAt);
      this.ws();
      if (this.s[this.i] !== ":") this.fail("expected ':' in dict");
      this.i++;
      this.ws();
      out[String(key)] = this.value();
      this.ws();
      if (this.s[this.i] === ",") {
        this.i++;
        this.ws();
      } else if (this.s[this.i] !== "}") this.fail("expected ',' or '}' in dict");
    }
    this.i++;
    return out;
  }

  list(close: "]" | ")"): PyValue[] {
    this.i++;
    const out: PyValue[] = [];
    this.ws();
    while (this.s[this.i] !== close) {
      out.push(this.value());
      this.ws();
      if (this.s[this.i] === ",") {
        this.i++;
        this.ws();
      } else if (this.s[this.i] !== close) this.fail(`expected ',' or '${close}'`);
    }
    this.i++;
    return out;
  }

  /** One or more adjacent string literals ('a' "b" == 'ab'). */
  strings(): string {
    let out = this.string();
    for (;;) {
      const save = this.i;
      this.ws();
      const c = this.s[this.i];
      if (c === "'" || c === '"' || (c && /[rRuU]/.test(c) && /['"]/.test(this.s[this.i + 1] ?? ""))) {
        out += this.string();
      } else {
        this.i = save;
        return out;
      }
    }
  }

  string(): string {
    let raw = false;
    while (/[rRbBuU]/.test(this.s[this.i]!)) {
      if (/[rR]/.test(this.s[this.i]!)) raw = true;
      this.i++;
    }
    const q = this.s[this.i]!;
    const triple = this.s.startsWith(q.repeat(3), this.i);
    const end = triple ? q.repeat(3) : q;
    this.i += end.length;
    let out = "";
    for (;;) {
      if (this.i >= this.s.length) this.fail("unterminated string");
      if (this.s.startsWith(end, this.i)) {
        this.i += end.length;
        return out;
      }
      const c = this.s[this.i]!;
      if (c === "\n" && !triple) this.fail("newline in single-quoted string");
      if (c !== "\\") {
        // copy the run of ordinary characters at once
        const qc = q.charCodeAt(0);
        let k = this.i + 1;
        while (k < this.s.length) {
          const d = this.s.charCodeAt(k);
          if (d === 92 /* \\ */ || d === qc || d === 10) break;
          k++;
        }
        out += this.s.slice(this.i, k);
        this.i = k;
        continue;
      }
      const n = this.s[this.i + 1];
      if (n === undefined) this.fail("unterminated string");
      if (raw) {
        out += c + n;
        this.i += 2;
        continue;
      }
      if (n in SIMPLE_ESCAPES && !/[0-7]/.test(this.s[this.i + 2] ?? "")) {
        out += SIMPLE_ESCAPES[n]!;
        this.i += 2;
      } else if (n === "\n") {
        this.i += 2; // line continuation
      } else if (n === "x" || n === "u" || n === "U") {
        const len = n === "x" ? 2 : n === "u" ? 4 : 8;
        const hex = this.s.slice(this.i + 2, this.i + 2 + len);
        if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) this.fail(`bad \\${n} escape`);
        out += String.fromCodePoint(parseInt(hex, 16));
        this.i += 2 + len;
      } else if (/[0-7]/.test(n)) {
        const oct = /^[0-7]{1,3}/.exec(this.s.slice(this.i + 1))![0];
        out += String.fromCharCode(parseInt(oct, 8));
        this.i += 1 + oct.length;
      } else {
        // Python keeps unknown escapes as-is.
        out += c + n;
        this.i += 2;
      }
    }
  }

  number(): number {
    const m = /^[-+]?(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][-+]?\d+)?/.exec(this.s.slice(this.i));
    if (!m) this.fail("bad number");
    this.i += m[0].length;
    const v = Number(m[0].replace(/_/g, ""));
    if (!Number.isFinite(v)) this.fail("bad number");
    return v;
  }
}
