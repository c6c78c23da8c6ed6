/**
 * Runs a Jupyter notebook headlessly (nbclient in the project's Python, kernel from the notebook's metadata,
 * normally `tslab`), with the notebook's folder as working directory. Outputs are never written back.
 * Rejects with the failing cell's index, source and error when any cell fails.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { projectRoot, venvPython } from "../../lib/util/paths";
import { runChild } from "./spawn";

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
): Promise<void> {
  const abs = path.resolve(notebookPath);
  if (!existsSync(abs)) throw new NotebookError(`notebook not found: ${abs}`, abs);
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const script = path.join(projectRoot(), "python", "peers", "execute_notebook.py");
  const request = JSON.stringify({ path: abs, timeout_s: timeoutMs / 1000 });
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
  if (parsed.ok) return;
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
