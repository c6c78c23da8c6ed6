#!/usr/bin/env node
/**
 * Compares two main-job output folders (`routerlab run --out-dir <dir>`), e.g. before and after a refactoring on
 * the same caches: every scores file must be byte-identical, and summary.json must be equal once wall-clock fields
 * (seconds, fitSeconds, fromCache, cachedFolds, generatedAt) and the paths naming the output or journal folders
 * (report, outDir, trackingRunDirs) are dropped.
 * Exits 1 listing the differences.
 *
 *   node scripts/compare-main-job.js <before-out-dir> <after-out-dir>
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const VOLATILE = new Set([
  "seconds",
  "fitSeconds",
  "fromCache",
  "cachedFolds",
  "report",
  "outDir",
  "generatedAt",
  "trackingRunDirs",
]);

function files(dir, rel = "") {
  const out = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (e.isSymbolicLink()) continue;
    if (e.isDirectory()) out.push(...files(dir, r));
    else out.push(r);
  }
  return out;
}

function stable(v) {
  if (Array.isArray(v)) return v.map(stable);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.keys(v)
        .filter((k) => !VOLATILE.has(k))
        .sort()
        .map((k) => [k, stable(v[k])]),
    );
  return v;
}

function main(argv) {
  if (argv.length !== 2 || argv.includes("--help")) {
    process.stdout.write("usage: node scripts/compare-main-job.js <before-out-dir> <after-out-dir>\n");
    return argv.includes("--help") ? 0 : 2;
  }
  const [a, b] = argv.map((d) => path.resolve(d));
  const problems = [];
  const scores = (d) => files(d).filter((f) => f.split(path.sep).includes("scores") && f.endsWith(".json"));
  const sa = scores(a).sort();
  const sb = scores(b).sort();
  if (sa.length === 0) problems.push(`${a}: no scores files`);
  if (JSON.stringify(sa) !== JSON.stringify(sb))
    problems.push(`different scores files:\n  ${sa.join(", ")}\n  ${sb.join(", ")}`);
  for (const f of sa.filter((x) => sb.includes(x)))
    if (!fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(b, f))))
      problems.push(`${f} differs`);
  for (const f of files(a).filter(
    (x) => path.basename(x) === "summary.json" || path.basename(x) === "multi.json",
  )) {
    const other = path.join(b, f);
    if (!fs.existsSync(other)) {
      problems.push(`${f} missing in ${b}`);
      continue;
    }
    const ja = JSON.stringify(stable(JSON.parse(fs.readFileSync(path.join(a, f), "utf8"))));
    const jb = JSON.stringify(stable(JSON.parse(fs.readFileSync(other, "utf8"))));
    if (ja !== jb) problems.push(`${f} differs (timings and report paths aside)`);
  }
  if (problems.length > 0) {
    process.stderr.write(problems.join("\n") + "\n");
    return 1;
  }
  process.stdout.write(`identical: ${sa.length} scores files and the summaries\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
