/** Where the simulator's facts come from: the bundled SimpleQA CSV, another SimpleQA-format CSV, or a JSONL file. */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { bundledPaths } from "../../data/bundled";
import { loadSimpleQa } from "../../data/simpleqa";
import { RouterlabError } from "../../util/errors";
import type { SimFact } from "./types";

const FactLine = z.strictObject({
  question: z.string().trim().min(1),
  answer: z.string().trim().min(1),
  kind: z.string().min(1).optional(),
});

export interface LoadedFacts {
  readonly facts: SimFact[];
  /** What was loaded, for the banner. */
  readonly source: string;
}

/** `simpleqa` | a SimpleQA-format `.csv` | a `.jsonl` of `{question, answer[, kind]}` per line. */
export function loadSimFacts(spec: string): LoadedFacts {
  if (spec === "simpleqa" || spec.toLowerCase().endsWith(".csv")) {
    const file = spec === "simpleqa" ? bundledPaths().simpleqa : spec;
    const { rows, report } = loadSimpleQa(file);
    if (rows.length === 0) throw new RouterlabError("no usable SimpleQA rows", { file });
    return {
      facts: rows.map((r) => ({ question: r.problem, answer: r.answer, kind: r.answerType })),
      source: `${file} (SimpleQA, ${rows.length} rows${report.rowsQuarantined > 0 ? `, ${report.rowsQuarantined} quarantined` : ""})`,
    };
  }
  if (spec.toLowerCase().endsWith(".jsonl")) return { facts: loadFactsJsonl(spec), source: spec };
  throw new RouterlabError(
    `unknown facts source '${spec}'`,
    undefined,
    "use simpleqa, a SimpleQA .csv or a .jsonl file",
  );
}

export function loadFactsJsonl(file: string): SimFact[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new RouterlabError(`cannot read facts: ${(e as Error).message}`, { file });
  }
  const facts: SimFact[] = [];
  text.split("\n").forEach((raw, i) => {
    if (raw.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new RouterlabError(`not JSON: ${(e as Error).message}`, { file, line: i + 1 });
    }
    const r = FactLine.safeParse(value);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new RouterlabError(issue.message, { file, line: i + 1, field: issue.path.join(".") || "(line)" });
    }
    facts.push(r.data.kind === undefined ? { question: r.data.question, answer: r.data.answer } : r.data);
  });
  if (facts.length === 0) throw new RouterlabError("no facts in file", { file });
  return facts;
}
