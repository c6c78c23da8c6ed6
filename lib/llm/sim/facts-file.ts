/** Where the simulator's facts come from: the bundled SimpleQA CSV, another SimpleQA-format CSV, or a JSONL file. */
import { z } from "zod";
import { bundledPaths } from "../../data/bundled";
import { loadSimpleQa } from "../../data/simpleqa";
import { RouterlabError } from "../../util/errors";
import { readJsonl } from "../../util/jsonl";
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
  const facts: SimFact[] = readJsonl(file, FactLine, "facts").map((f) =>
    f.kind === undefined ? { question: f.question, answer: f.answer } : f,
  );
  if (facts.length === 0) throw new RouterlabError("no facts in file", { file });
  return facts;
}
