import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync, utimesSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { projectRoot } from "../../lib/util/paths";
import { runChild } from "../support/spawn";

const root = projectRoot();

/** scripts/ensure-node-deps.js: only nodejs-polars' EBADENGINE warnings are dropped from npm's output. */
describe("first run: install output", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { dropPolarsEngineWarnings } = require(path.join(root, "scripts", "ensure-node-deps.js")) as {
    dropPolarsEngineWarnings: (text: string) => string;
  };
  const block = (pkg: string): string =>
    [
      "npm warn EBADENGINE Unsupported engine {",
      `npm warn EBADENGINE   package: '${pkg}',`,
      "npm warn EBADENGINE   required: { node: '>= 22' },",
      "npm warn EBADENGINE   current: { node: 'v20.20.2', npm: '10.8.2' }",
      "npm warn EBADENGINE }",
    ].join("\n");

  it("drops the polars binding's engine warning and keeps everything else", () => {
    const other = block("some-other-package@1.0.0");
    const text = [
      "added 412 packages in 9s",
      block("nodejs-polars-linux-x64-gnu@0.25.2"),
      other,
      "done",
    ].join("\n");
    assert.equal(dropPolarsEngineWarnings(text), ["added 412 packages in 9s", other, "done"].join("\n"));
  });

  it("keeps an engine warning of the main nodejs-polars package (it declares node >= 20)", () => {
    const main = block("nodejs-polars@0.25.2");
    assert.equal(dropPolarsEngineWarnings(main), main);
  });
});

/**
 * `npm run routerlab -- --help` on a fresh clone: bin/routerlab.js builds dist/ when it is missing (or older than
 * lib/), then runs. Checked on a copy of lib/ and the entry points (node_modules linked), so the checkout's own
 * dist/ is left alone.
 */
describe("first run: the CLI builds itself", () => {
  const clone = mkdtempSync(path.join(os.tmpdir(), "routerlab-fresh-"));
  after(() => rmSync(clone, { recursive: true, force: true }));

  it("routerlab --help works with no dist/, and a changed lib/ file triggers a rebuild", async () => {
    for (const p of ["lib", "bin", "scripts", "package.json", "tsconfig.json"]) {
      cpSync(path.join(root, p), path.join(clone, p), { recursive: true, preserveTimestamps: true });
    }
    symlinkSync(path.join(root, "node_modules"), path.join(clone, "node_modules"));
    assert.equal(existsSync(path.join(clone, "dist")), false);
    const bin = path.join(clone, "bin", "routerlab.js");
    const first = await runChild(process.execPath, [bin, "--help"], { cwd: clone, timeoutMs: 600_000 });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /building \(dist\/ has not been built\)/);
    assert.match(first.stdout, /Usage: routerlab/);
    assert.match(first.stdout, /\bui\b/);

    const warm = await runChild(process.execPath, [bin, "--help"], { cwd: clone, timeoutMs: 60_000 });
    assert.equal(warm.code, 0, warm.stderr);
    assert.doesNotMatch(warm.stderr, /building/, "an up-to-date dist/ is not rebuilt");

    const future = new Date(Date.now() + 60_000);
    utimesSync(path.join(clone, "lib", "util", "paths.ts"), future, future);
    const stale = await runChild(process.execPath, [bin, "--version"], { cwd: clone, timeoutMs: 600_000 });
    assert.equal(stale.code, 0, stale.stderr);
    assert.match(stale.stderr, /building \(lib\/ changed since the last build\)/);
  });
});
