/**
 * Runs a Jupyter notebook headlessly (nbclient in the project's Python, kernel from the notebook's metadata,
 * normally `tslab`), with the notebook's folder as working directory. Outputs are never written back; the
 * executed cells and their outputs are returned. Rejects with the failing cell's index, source and error when any
 * cell fails (the executed notebook is then kept under the test logs).
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { PLOTLY_MIME } from "../../lib/plots/plotly";
import { projectRoot, venvPython } from "../../lib/util/paths";
import { runChild } from "./spawn";

const sourceSchema = z.union([z.string(), z.array(z.string()).transform((a) => a.join(""))]);
const outputSchema = z.looseObject({
  output_type: z.string(),
  data: z.record(z.string(), z.unknown()).optional(),
  text: sourceSchema.optional(),
});
const executedSchema = z.object({
  cells: z.array(
    z.looseObject({
      cell_type: z.string(),
      source: sourceSchema,
      outputs: z.array(outputSchema).optional(),
    }),
  ),
});
export type ExecutedNotebook = z.infer<typeof executedSchema>;
export type NotebookOutput = z.infer<typeof outputSchema>;

/** The notebook file as committed: no code cell carries outputs or an execution count. */
export function assertStoredWithoutOutputs(file: string): void {
  const doc = JSON.parse(readFileSync(file, "utf8")) as {
    cells: { cell_type: string; outputs?: unknown[]; execution_count?: unknown }[];
  };
  for (const c of doc.cells.filter((x) => x.cell_type === "code")) {
    assert.deepEqual(c.outputs, []);
    assert.equal(c.execution_count, null);
  }
}

/** Every output of every code cell, in order. */
export function notebookOutputs(nb: ExecutedNotebook): NotebookOutput[] {
  return nb.cells.flatMap((c) => c.outputs ?? []);
}

/** A text MIME value as nbformat stores it (a string, or a list of lines). */
function mimeText(v: unknown): string {
  if (typeof v === "string") return v;
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v.join("");
  return "";
}

/** A link to a chart file (`.html`, `.svg`, `.png`) in a notebook's source or outputs. */
export const CHART_LINK = /<a\s[^>]*href=[^>]*\.(html?|svg|png)\b/i;

/**
 * The notebook showed `expected` charts inline (at least, when `atLeast`): each a display output carrying
 * plotly's MIME type (a figure with traces) and an HTML fallback; and no output links to a chart file.
 */
export function assertChartsInline(
  nb: ExecutedNotebook,
  expected: number,
  opts: { atLeast?: boolean } = {},
): void {
  const outputs = notebookOutputs(nb);
  const charts = outputs.filter((o) => o.data?.[PLOTLY_MIME] !== undefined);
  for (const c of charts) {
    const fig = z
      .object({ data: z.array(z.object({ type: z.string() })).min(1), layout: z.object({}).loose() })
      .parse(c.data![PLOTLY_MIME]);
    assert.ok(fig.data.length > 0);
    assert.match(
      mimeText(c.data!["text/html"]),
      /Plotly\.newPlot/,
      "an HTML fallback beside the plotly MIME type",
    );
  }
  if (opts.atLeast)
    assert.ok(charts.length >= expected, `${charts.length} inline charts, expected at least ${expected}`);
  else assert.equal(charts.length, expected, "inline charts");
  for (const o of outputs) {
    const texts = [mimeText(o.data?.["text/html"]), mimeText(o.data?.["text/plain"]), o.text ?? ""];
    for (const t of texts) assert.doesNotMatch(t, CHART_LINK, "a chart shown only as a link");
  }
}

const resultSchema = z.discriminatedUnion("ok", [
  z.object({ ok: z.literal(true), cells: z.number().int(), kernel: z.string() }),
  z.object({
    ok: z.literal(false),
    kind: z.enum(["cell", "timeout", "kernel", "input"]),
    cell_index: z.number().int().optional(),
    source: z.string().optional(),
    ename: z.string().optional(),
    evalue: z.string().optional(),
    traceback: z.string().optional(),
    message: z.string().optional(),
  }),
]);

export class NotebookError extends Error {
  constructor(
    message: string,
    readonly notebook: string,
    readonly cellIndex?: number,
    readonly cellSource?: string,
  ) {
    super(message);
    this.name = "NotebookError";
  }
}

export async function executeNotebook(
  notebookPath: string,
  opts: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<ExecutedNotebook> {
  const abs = path.resolve(notebookPath);
  if (!existsSync(abs)) throw new NotebookError(`notebook not found: ${abs}`, abs);
  const work = mkdtempSync(path.join(os.tmpdir(), "routerlab-nb-"));
  const executed = path.join(work, path.basename(abs));
  try {
    return await runNotebook(abs, executed, opts);
  } catch (e) {
    if (existsSync(executed) && e instanceof NotebookError) {
      const keep = path.join(projectRoot(), ".cache", "test-logs", "notebooks");
      mkdirSync(keep, { recursive: true });
      const kept = path.join(
        keep,
        `${path.basename(abs, ".ipynb")}-${new Date().toISOString().replace(/[:.]/g, "-")}.ipynb`,
      );
      copyFileSync(executed, kept);
      e.message += `\n(executed notebook kept: ${kept})`;
    }
    throw e;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function runNotebook(
  abs: string,
  executed: string,
  opts: { env?: Record<string, string>; timeoutMs?: number },
): Promise<ExecutedNotebook> {
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const script = path.join(projectRoot(), "python", "peers", "execute_notebook.py");
  const request = JSON.stringify({ path: abs, timeout_s: timeoutMs / 1000, output_path: executed });
  const nodeBin = path.dirname(process.execPath);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...opts.env,
    // The tslab kernel is started through `#!/usr/bin/env node`: make sure it finds this Node.
    PATH: `${nodeBin}${path.delimiter}${opts.env?.PATH ?? process.env.PATH ?? ""}`,
    PYTHONUNBUFFERED: "1",
  };
  // nbclient enforces the per-cell timeout; the process timeout guards kernel start-up and the run as a whole.
  const { code, stdout, stderr } = await runChild(path.resolve(venvPython()), [script, request], {
    cwd: path.dirname(abs),
    env,
    timeoutMs: timeoutMs + 60_000,
  }).catch((e: unknown) => {
    const message = e instanceof Error ? e.message : String(e);
    throw new NotebookError(`cannot run ${venvPython()} (run scripts/setup-python.sh): ${message}`, abs);
  });
  const lastLine = stdout.trim().split("\n").at(-1) ?? "";
  let parsed: z.infer<typeof resultSchema>;
  try {
    parsed = resultSchema.parse(JSON.parse(lastLine));
  } catch {
    throw new NotebookError(
      `notebook runner failed for ${abs} (exit ${code}) without a result:\n${stderr.slice(-3000)}\n${stdout.slice(-1000)}`,
      abs,
    );
  }
  if (parsed.ok) return executedSchema.parse(JSON.parse(readFileSync(executed, "utf8")));
  const rel = path.relative(projectRoot(), abs);
  if (parsed.kind === "cell" || parsed.kind === "timeout") {
    const what =
      parsed.kind === "cell"
        ? `${parsed.ename ?? "Error"}: ${parsed.evalue ?? ""}`
        : `timeout: ${parsed.message}`;
    throw new NotebookError(
      `${rel}: cell ${parsed.cell_index ?? "?"} failed: ${what}\n--- cell source ---\n${parsed.source ?? ""}\n` +
        `--- traceback ---\n${parsed.traceback ?? ""}`,
      abs,
      parsed.cell_index,
      parsed.source,
    );
  }
  throw new NotebookError(
    `${rel}: ${parsed.kind} error: ${parsed.message ?? ""}\n${stderr.slice(-2000)}`,
    abs,
  );
}
