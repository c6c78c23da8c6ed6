import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { RouterlabError } from "../../lib/util/errors";
import { dataDir } from "../../lib/util/paths";
import { createRng, shuffled } from "../../lib/util/random";

const DcRouterRows = z.array(z.object({ question: z.string() }).loose());

/**
 * Real queries from the bundled data (LLMRouter dcrouter train + test questions, de-duplicated, non-empty),
 * shuffled with `seed` and cut to `limit`. Used by the parity test, the benchmark and `routerlab embed` samples.
 */
export function realQueries(limit: number, seed = 7): string[] {
  const out = new Set<string>();
  for (const f of ["train.json", "test.json"]) {
    const file = path.join(dataDir(), "llmrouter", "dcrouter_preprocessed", f);
    const parsed = DcRouterRows.safeParse(JSON.parse(readFileSync(file, "utf8")));
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new RouterlabError(issue.message, {
        file,
        path: `$${issue.path.map((p) => `[${JSON.stringify(p)}]`).join("")}`,
      });
    }
    for (const r of parsed.data) if (r.question.trim().length > 0) out.add(r.question);
  }
  return shuffled([...out], createRng(seed)).slice(0, limit);
}

const WORDS = [
  "router",
  "gateway",
  "embedding",
  "latency",
  "cost",
  "quality",
  "model",
  "query",
  "cheap",
  "strong",
];
const UNICODE = [
  "Héllo wörld, naïve café, ÅNGSTRÖM résumé",
  "北京是中国的首都。東京は日本の首都です。",
  "Привет, как дела? Ελληνικά κείμενα εδώ.",
  "مرحبا بالعالم — שלום עולם",
  "emoji 🚀🔥👍🏽 family 👨‍👩‍👧 flags 🇫🇷🇯🇵",
  "ﬁ ligature, Ⅻ roman, ½ fraction, ① circled, ｆｕｌｌｗｉｄｔｈ",
  "zero\u200bwidth and\u00a0nbsp and combining e\u0301 a\u0308",
  "tabs\tand\nnewlines\r\n and control \u0007 bell",
];
const CODE = [
  "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
  "SELECT id, COUNT(*) FROM orders WHERE total > 100 GROUP BY id HAVING COUNT(*) > 2;",
  'const x = await fetch("/api?q=1&r=2").then((r) => r.json()); // TODO',
  '#include <stdio.h>\nint main(void) { printf("%d\\n", 42); return 0; }',
  '<div class="a"><span>{{ value | escape }}</span></div>',
];

/** Generated probe texts: long (well over 256 word-pieces), unicode, code, mixed. Deterministic. */
export function generatedProbes(n: number, seed = 11): string[] {
  const rng = createRng(seed);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const kind = i % 4;
    if (kind === 0) {
      const len = 200 + rng.int(600);
      out.push(Array.from({ length: len }, () => WORDS[rng.int(WORDS.length)]!).join(" "));
    } else if (kind === 1) {
      out.push(`${UNICODE[rng.int(UNICODE.length)]!} ${i}`);
    } else if (kind === 2) {
      out.push(`${CODE[rng.int(CODE.length)]!}\n# variant ${i}`);
    } else {
      const parts = [
        UNICODE[rng.int(UNICODE.length)]!,
        CODE[rng.int(CODE.length)]!,
        WORDS[rng.int(WORDS.length)]!,
      ];
      out.push(parts.join(" ").repeat(1 + rng.int(8)));
    }
  }
  return out;
}
