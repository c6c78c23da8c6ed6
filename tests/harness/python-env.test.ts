import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { z } from "zod";
import { projectRoot } from "../../lib/util/paths";
import { testServices } from "../support/services";

/** `name==version` pins from python/requirements.txt. */
function pins(): Map<string, string> {
  const text = readFileSync(path.join(projectRoot(), "python", "requirements.txt"), "utf8");
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^\s*([A-Za-z0-9_.-]+)==([^\s#;]+)/.exec(line);
    if (m?.[1] && m[2]) out.set(m[1].toLowerCase().replace(/_/g, "-"), m[2]);
  }
  return out;
}

test("the .venv has the pinned torch, scikit-learn, numpy, mlflow and nbclient", () => {
  const { python } = testServices();
  const want = pins();
  const names = ["torch", "scikit-learn", "numpy", "mlflow", "nbclient", "scipy", "pandas"];
  const code =
    "import json, importlib.metadata as m, sys\n" +
    "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))";
  const got = z
    .record(z.string(), z.string())
    .parse(JSON.parse(execFileSync(python, ["-c", code, ...names], { encoding: "utf8" })));
  for (const n of names) {
    const pinned = want.get(n);
    assert.ok(pinned, `${n} is not pinned in python/requirements.txt`);
    // torch CPU wheels carry a local version (2.13.0+cpu).
    assert.equal(got[n]?.split("+")[0], pinned, `${n}: installed ${got[n]}, pinned ${pinned}`);
  }
});
