/**
 * Text helpers shared by the simulated models: normalisation for matching, word-boundary containment, the
 * "I don't know" detector, seeded draws and the token estimate reported in `usage`.
 */

/** Lowercase, every run of non-letters/digits becomes one space, trimmed. Matching happens in this space. */
export function normalize(text: string): string {
  const lower = text.toLowerCase();
  // ASCII fast path (most prompts); same result as the Unicode-aware replace below.
  if (!/[^\x20-\x7e\s]/.test(lower)) return lower.replace(/[^a-z0-9]+/g, " ").trim();
  return lower.replace(/[^\p{L}\p{N}]+/gu, " ").trim();
}

/** `needle` occurs in `haystack` as whole words (both already normalised). */
export function containsWords(haystack: string, needle: string): boolean {
  if (needle === "") return false;
  return ` ${haystack} `.includes(` ${needle} `);
}

const NOT_ATTEMPTED =
  /\b(i don t know|i do not know|i m not sure|i am not sure|not sure|cannot answer|can t answer|unable to (answer|determine|find)|no (reliable )?information|i don t have|i do not have|cannot determine|can t determine|without (more )?(context|information|researching))\b/;

/** An "I don't know"-style reply (normalised text): SimpleQA's NOT_ATTEMPTED. */
export function looksNotAttempted(normalizedText: string): boolean {
  return NOT_ATTEMPTED.test(normalizedText);
}

/** cyrb53: a fast 53-bit string hash (not cryptographic; only used to draw seeded uniforms). */
export function hash53(s: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** A uniform in [0, 1) fixed by the seed and the parts (joined with NUL, so part boundaries matter). */
export function uniform(seed: number, ...parts: readonly (string | number)[]): number {
  return hash53(parts.join("\u0000"), seed | 0) / 9007199254740992;
}

/** Integer in [0, n) fixed by the seed and the parts. */
export function pick(n: number, seed: number, ...parts: readonly (string | number)[]): number {
  return Math.min(n - 1, Math.floor(uniform(seed, ...parts) * n));
}

const SPACE = 0;
const LETTER = 1;
const DIGIT = 2;
const PUNCT = 3;

/** Character class for the token estimate; non-ASCII counts as a letter except spaces and general punctuation. */
function charClass(c: number): number {
  if (c < 128) {
    if (c === 32 || (c >= 9 && c <= 13)) return SPACE;
    if (c >= 48 && c <= 57) return DIGIT;
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) return LETTER;
    return PUNCT;
  }
  if (c === 0xa0 || c === 0x3000 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029)
    return SPACE;
  if (c >= 0x2010 && c <= 0x206f) return PUNCT;
  return LETTER;
}

/** Tokens of one run: a word of up to 7 letters is one token (BPE merges common words with their space). */
function runTokens(cls: number, len: number): number {
  if (cls === LETTER) return len <= 7 ? 1 : Math.ceil(len / 5);
  if (cls === DIGIT) return Math.ceil(len / 3); // digits go in groups of up to 3
  if (cls === PUNCT) return Math.ceil(len / 2);
  return 0;
}

/**
 * Walks the runs of letters / digits / punctuation; `limit` stops at the first run that would exceed it.
 * Returns the token count and where the text was cut (text.length when it was not).
 */
function scanTokens(text: string, limit: number): { tokens: number; end: number } {
  let n = 0;
  let cls = SPACE;
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    const k = i < text.length ? charClass(text.charCodeAt(i)) : SPACE;
    if (k === cls) continue;
    const t = runTokens(cls, i - start);
    if (n + t > limit) return { tokens: n, end: start };
    n += t;
    cls = k;
    start = i;
  }
  return { tokens: n, end: text.length };
}

/**
 * A word-piece estimate of a BPE token count: words of up to 7 letters are one token, longer ones one per 5
 * letters, digits one per 3, punctuation one per 2 marks. On English prose this lands near cl100k's count and
 * near the chars/4 rule of thumb. One pass over char codes (it runs on every prompt).
 */
export function countTokens(text: string): number {
  return scanTokens(text, Infinity).tokens;
}

/** The first `maxTokens` tokens of `text` by the same estimate (for `max_tokens` and finish_reason "length"). */
export function truncateTokens(text: string, maxTokens: number): string {
  const { end } = scanTokens(text, maxTokens);
  return end === text.length ? text : text.slice(0, end).trimEnd();
}

/** OpenAI's chat accounting: ~4 tokens of framing per message plus 3 to prime the reply. */
export function promptTokens(messages: readonly { role: string; content: string }[]): number {
  let n = 3;
  for (const m of messages) n += 4 + countTokens(m.content);
  return n;
}
