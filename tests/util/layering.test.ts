import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { exportFormats } from "../../lib/export/formats";
import { routerKinds } from "../../lib/routers/registry";
import { projectRoot } from "../../lib/util/paths";

/**
 * Source scans for issue 13's layering rules: only lib/routers knows router kinds, lib/cli stays a thin parser and
 * printer under its line budget, and nothing but the CLI tests imports lib/cli.
 */

const root = projectRoot();
const CLI_LINE_BUDGET = 1500;

function filesUnder(dir: string, ending: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p, ending));
    else if (e.isFile() && e.name.endsWith(ending)) out.push(p);
  }
  return out;
}

function withoutComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " ")).replace(/\/\/.*$/gm, "");
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Router kinds and gateway kinds (`knn`, `mlp`...), and the concrete router classes lib/routers exports. */
function kindKnowledge(): { kinds: string[]; classes: string[] } {
  const kinds = [...new Set([...routerKinds(), ...exportFormats().map((f) => f.gatewayKind)])];
  const classes = filesUnder(path.join(root, "lib", "routers"), ".ts").flatMap((f) =>
    [...readFileSync(f, "utf8").matchAll(/^export class (\w+)/gm)].map((m) => m[1]!),
  );
  return { kinds, classes };
}

/** Lines that branch on a router kind: `=== "knn"`, `"knn" !==`, `case "knn"`, `instanceof KnnRouter`. */
export function kindBranches(src: string, kinds: readonly string[], classes: readonly string[]): string[] {
  const k = kinds.map(escape).join("|");
  const patterns = [
    new RegExp(`[!=]==?\\s*["'\`](?:${k})["'\`]`),
    new RegExp(`["'\`](?:${k})["'\`]\\s*[!=]==?`),
    new RegExp(`\\bcase\\s+["'\`](?:${k})["'\`]`),
    ...(classes.length ? [new RegExp(`\\binstanceof\\s+(?:${classes.map(escape).join("|")})\\b`)] : []),
  ];
  return withoutComments(src)
    .split("\n")
    .flatMap((line, i) => (patterns.some((p) => p.test(line)) ? [`${i + 1}: ${line.trim()}`] : []));
}

describe("layering (issue 13)", () => {
  const { kinds, classes } = kindKnowledge();

  it("the scan catches each form of a kind branch, and ignores comments and other strings", () => {
    assert.ok(kinds.includes("knn") && kinds.includes("mlp") && classes.includes("KnnRouter"));
    const src = [
      'if (r.kind === "knn") a();',
      "const b = 'mlp' !== kind;",
      'switch (k) { case "svm": break; }',
      "if (r instanceof KnnRouter) c();",
      '// if (r.kind === "knn") is only a comment',
      'if (x.kind === "graded") d();',
      'const s = "knn";',
    ].join("\n");
    assert.deepEqual(
      kindBranches(src, kinds, classes).map((l) => Number(l.split(":")[0])),
      [1, 2, 3, 4],
    );
  });

  it("no code under lib/ outside lib/routers branches on a router kind", () => {
    const offenders = filesUnder(path.join(root, "lib"), ".ts")
      .filter((f) => !f.startsWith(path.join(root, "lib", "routers") + path.sep))
      .flatMap((f) =>
        kindBranches(readFileSync(f, "utf8"), kinds, classes).map((l) => `${path.relative(root, f)}:${l}`),
      );
    assert.deepEqual(offenders, [], "move the kind's knowledge into its registry or export format entry");
  });

  it(`lib/cli stays under ${CLI_LINE_BUDGET} lines`, () => {
    const counts = filesUnder(path.join(root, "lib", "cli"), ".ts").map(
      (f) => [path.relative(root, f), readFileSync(f, "utf8").split("\n").length - 1] as const,
    );
    const total = counts.reduce((s, [, n]) => s + n, 0);
    assert.ok(
      total < CLI_LINE_BUDGET,
      `lib/cli has ${total} lines (budget ${CLI_LINE_BUDGET}); largest: ${[...counts]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 5)
        .map(([f, n]) => `${f} ${n}`)
        .join(", ")}`,
    );
  });

  it("only tests/cli imports lib/cli; no notebook does", () => {
    const cliImport = /(?:from\s+|require\(\s*)\\?["'][^"'\\]*\blib\/cli\b/;
    assert.ok(cliImport.test('import { runTrain } from "../../lib/cli/train";'));
    assert.ok(cliImport.test('"const t = require(\\"../dist/lib/cli/train\\");\\n",'));
    assert.ok(!cliImport.test('import { train } from "../../lib/pipeline/train";'));
    const testFiles = filesUnder(path.join(root, "tests"), ".ts").filter(
      (f) =>
        !f.startsWith(path.join(root, "tests", "cli") + path.sep) &&
        f !== path.join(root, "tests", "util", "layering.test.ts"), // its own self-check strings
    );
    const notebooks = filesUnder(path.join(root, "notebooks"), ".ipynb");
    const offenders = [...testFiles, ...notebooks].filter((f) => cliImport.test(readFileSync(f, "utf8")));
    assert.deepEqual(
      offenders.map((f) => path.relative(root, f)),
      [],
    );
  });
});
