import { spawnSync } from "node:child_process";
import path from "node:path";
import { RouterlabError } from "../util/errors";
import { projectRoot } from "../util/paths";

export interface PythonStepOptions {
  /** Written to the step's stdin. */
  input?: string;
  maxBuffer: number;
  /** What to do when `python` cannot be started. */
  hint?: string;
}

/**
 * Runs `python/steps/<script>` with `args` and returns its answer: the JSON on the last line of its stdout. A step that
 * prints no JSON there failed; the error carries its exit status and the end of its stderr.
 */
export function runPythonStep(
  python: string,
  script: string,
  args: readonly string[],
  o: PythonStepOptions,
): unknown {
  const file = path.join(projectRoot(), "python", "steps", script);
  const p = spawnSync(python, [file, ...args], {
    ...(o.input !== undefined ? { input: o.input } : {}),
    encoding: "utf8",
    maxBuffer: o.maxBuffer,
  });
  if (p.error) throw new RouterlabError(`cannot run ${python}: ${p.error.message}`, undefined, o.hint);
  try {
    return JSON.parse(p.stdout.trim().split("\n").pop() ?? "");
  } catch {
    throw new RouterlabError(`${script} failed (exit ${p.status}): ${p.stderr.slice(-2000)}`);
  }
}
