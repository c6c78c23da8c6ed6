import { z } from "zod";
import type { PyValue } from "./python-literal";
import { parsePythonLiteral, PythonLiteralError } from "./python-literal";
import type { Loaded, LoadOptions } from "./load";
import { guardRow, LoadTracker, parseRow, readCsv, RowError } from "./load";

/** One SimpleQA question; `metadata` (a Python-dict literal) is parsed into topic / answer_type / urls. */
export interface SimpleQaRow {
  /** `simpleqa/<0-based row index>` in file order. */
  id: string;
  line: number;
  problem: string;
  answer: string;
  topic: string;
  answerType: string;
  urls: string[];
}

const MetadataSchema = z.object({
  topic: z.string().min(1),
  answer_type: z.string().min(1),
  urls: z.array(z.string()).default([]),
});

export function loadSimpleQa(file: string, opts: LoadOptions = {}): Loaded<SimpleQaRow> {
  const tracker = new LoadTracker(file, "simpleqa-csv", opts);
  const { records } = readCsv(file, tracker, ["metadata", "problem", "answer"], opts);
  const rows: SimpleQaRow[] = [];
  records.forEach((r, index) => {
    const row = guardRow(tracker, { line: r.line, raw: r.raw }, () => {
      let meta: PyValue;
      try {
        meta = parsePythonLiteral(r.cells.get("metadata")!);
      } catch (e) {
        if (e instanceof PythonLiteralError)
          throw new RowError("metadata", `not a Python dict literal: ${e.message}`);
        throw e;
      }
      const m = parseRow(MetadataSchema, meta);
      const problem = r.cells.get("problem")!;
      if (problem.trim() === "") throw new RowError("problem", "empty");
      return {
        id: `simpleqa/${index}`,
        line: r.line,
        problem,
        answer: r.cells.get("answer")!,
        topic: m.topic,
        answerType: m.answer_type,
        urls: m.urls,
      };
    });
    if (row) rows.push(row);
  });
  return { rows, report: tracker.finish() };
}
