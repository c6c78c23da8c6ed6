import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { projectRoot } from "../../lib/util/paths";
import { fixture, tempDir } from "./helpers";

const main = path.join(projectRoot(), "dist", "lib", "cli", "main.js");

function cli(
  args: string[],
  env: Record<string, string> = {},
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [main, ...args], {
    encoding: "utf8",
    env: { ...process.env, ROUTERLAB_QUIET: "1", ...env },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("routerlab data --help lists inspect and split", () => {
  const r = cli(["data", "--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /inspect \[options\] <file>/);
  assert.match(r.stdout, /split \[options\]/);
  assert.match(cli(["data", "split", "--help"]).stdout, /--config <file>/);
});

test("routerlab data inspect detects the format and prints the report and a preview", () => {
  const t = tempDir();
  try {
    const r = cli(["data", "inspect", fixture("traces", "jaeger_export.json"), "--quarantine-dir", t.dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /format: jaeger-json {3}rows: 3/);
    assert.match(r.stdout, /read: 3 {3}accepted: 3 {3}quarantined: 0/);
    const j = cli(["data", "inspect", fixture("routing", "routing_train.jsonl"), "--json", "--rows", "1"]);
    const parsed = JSON.parse(j.stdout) as { format: string; rows: number; preview: unknown[] };
    assert.equal(parsed.format, "llmrouter-routing-jsonl");
    assert.equal(parsed.rows, 5);
    assert.equal(parsed.preview.length, 1);
    const bad = cli(["data", "inspect", t.file("x.csv", "a,b\n1,2\n"), "--format", "simpleqa-csv"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /x\.csv:1 field 'metadata': missing column 'metadata'/);
  } finally {
    t.cleanup();
  }
});

test("routerlab data split writes id lists, folds and a leakage report; a bad config names file, line, field", () => {
  const t = tempDir();
  try {
    const cfg = t.file(
      "split.yaml",
      `dataset: mt-bench\ntest_fraction: 0.25\nk: 3\nseed: 1\nstratify: true\nout_dir: ${t.dir}/s\n`,
    );
    const r = cli(["data", "split", "--config", cfg]);
    assert.equal(r.code, 0, r.stderr);
    const train = JSON.parse(readFileSync(path.join(t.dir, "s", "train.json"), "utf8")) as string[];
    const testIds = JSON.parse(readFileSync(path.join(t.dir, "s", "test.json"), "utf8")) as string[];
    assert.equal(train.length + testIds.length, 72);
    assert.ok(Math.abs(testIds.length - 72 * 0.25) <= 2, `test size ${testIds.length}`); // rounded per category
    assert.ok(existsSync(path.join(t.dir, "s", "fold-2.json")));
    const leak = JSON.parse(readFileSync(path.join(t.dir, "s", "leakage.json"), "utf8")) as {
      leakage: { overlappingQueries: number };
    };
    assert.equal(leak.leakage.overlappingQueries, 0);
    const bad = t.file("bad.yaml", "dataset: mt-bench\ntest_fraction: 1.5\n");
    const b = cli(["data", "split", "--config", bad]);
    assert.equal(b.code, 1);
    assert.match(b.stderr, /bad\.yaml:2 field 'test_fraction'/);
  } finally {
    t.cleanup();
  }
});

test("routerlab run writes summary.json and index.html with charts and prints the table", () => {
  const t = tempDir();
  try {
    const r = cli(["run", "--summary-only", "--sample", "40", "--out-dir", t.dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /routellm-mmlu\s+40\s+gpt-4-1106-preview/);
    const s = JSON.parse(readFileSync(path.join(t.dir, "summary", "summary.json"), "utf8")) as {
      datasets: {
        name: string;
        queries: number;
        perModel: unknown[];
        winTieLoss: { win: number; tie: number; loss: number }[];
      }[];
      simpleqa: { rows: number; topics: unknown[] };
      loads: { rowsRead: number; rowsAccepted: number; rowsQuarantined: number };
    };
    assert.equal(s.datasets.length, 5);
    for (const d of s.datasets) {
      assert.ok(d.queries <= 40);
      for (const w of d.winTieLoss) assert.ok(w.win + w.tie + w.loss <= d.queries);
    }
    assert.equal(s.datasets.find((d) => d.name === "llmrouter-test")!.perModel.length, 9);
    assert.equal(s.simpleqa.rows, 40);
    assert.equal(s.loads.rowsRead, s.loads.rowsAccepted + s.loads.rowsQuarantined);
    const html = readFileSync(path.join(t.dir, "summary", "index.html"), "utf8");
    assert.ok(
      (html.match(/Plotly\.newPlot/g) ?? []).length >= 17,
      "3 charts per dataset + lengths + groups + topics",
    );
  } finally {
    t.cleanup();
  }
});
