import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { z } from "zod";
import { MAX_YAML_ALIASES, parseYamlConfig } from "../../lib/util/config";
import { ENV_VARIABLES, parseEnv } from "../../lib/util/env";
import { RouterlabError } from "../../lib/util/errors";
import { projectRoot } from "../../lib/util/paths";
import { jsonPathOf, parseWith, schemaError } from "../../lib/util/zod-error";

const Config = z
  .object({
    dataset: z.string(),
    router: z
      .object({ kind: z.string(), hyperparameters: z.object({ k: z.number().int().positive() }).strict() })
      .strict(),
    seeds: z.array(z.number()).default([]),
  })
  .strict();

function located(fn: () => unknown): RouterlabError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof RouterlabError, String(e));
    return e;
  }
  assert.fail("expected an error");
}

test("YAML: a bad value, a bad list item and an unknown key (top level or nested) name file, line and field", () => {
  const ok = "dataset: mmlu\nrouter:\n  kind: knn\n  hyperparameters:\n    k: 5\n";
  assert.equal(parseYamlConfig(ok, "c.yaml", Config).router.hyperparameters.k, 5);
  const bad = located(() => parseYamlConfig(ok.replace("k: 5", "k: -2"), "c.yaml", Config));
  assert.deepEqual(bad.location, { file: "c.yaml", line: 5, field: "router.hyperparameters.k" });
  const top = located(() => parseYamlConfig(ok + "sede: 3\n", "c.yaml", Config));
  assert.deepEqual(top.location, { file: "c.yaml", line: 6, field: "sede" });
  assert.match(top.message, /^c\.yaml:6 field 'sede': Unrecognized key/);
  const nested = located(() =>
    parseYamlConfig(ok.replace("  kind: knn\n", "  kind: knn\n  kidn: 1\n"), "c.yaml", Config),
  );
  assert.deepEqual(nested.location, { file: "c.yaml", line: 4, field: "router.kidn" });
  const item = located(() => parseYamlConfig(ok + "seeds:\n  - 1\n  - two\n", "c.yaml", Config));
  assert.deepEqual(item.location, { file: "c.yaml", line: 8, field: "seeds.1" });
});

test("YAML: an alias bomb is refused with the file and the line of the first alias, quickly", () => {
  let bomb = 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n';
  for (let i = 1; i < 12; i++)
    bomb += `a${i}: &a${i} [${Array<string>(9)
      .fill(`*a${i - 1}`)
      .join(", ")}]\n`;
  const started = Date.now();
  const e = located(() => parseYamlConfig(bomb, "bomb.yaml", z.unknown()));
  assert.ok(Date.now() - started < 5000);
  assert.equal(e.location?.file, "bomb.yaml");
  assert.equal(e.location?.line, 2);
  assert.match(e.message, new RegExp(`at most ${MAX_YAML_ALIASES} alias uses`));
  // a few aliases are fine
  const few = parseYamlConfig(
    "base: &b {k: 1}\nx: *b\ny: *b\n",
    "few.yaml",
    z.record(z.string(), z.unknown()),
  );
  assert.deepEqual(few["y"], { k: 1 });
});

test("JSON: the error carries the JSON path and the failing key's name; JSONL: the line", () => {
  const S = z.object({ tensors: z.array(z.object({ name: z.string(), data: z.array(z.number()) })) });
  const e = located(() =>
    parseWith(
      S,
      {
        tensors: [
          { name: "w", data: [1] },
          { name: 3, data: [] },
        ],
      },
      { file: "m.json", jsonPath: "$" },
    ),
  );
  assert.deepEqual(e.location, { file: "m.json", path: "$.tensors[1].name", field: "name" });
  const l = located(() => parseWith(S, { tensors: 1 }, { file: "x.jsonl", line: 7 }));
  assert.deepEqual(l.location, { file: "x.jsonl", line: 7, field: "tensors" });
  const r = z.object({ a: z.number() }).safeParse({ a: "x" });
  assert.ok(!r.success);
  assert.match(schemaError(r.error, { file: "f", what: "svm" }).message, /^f field 'a': svm: /);
  assert.equal(jsonPathOf("$", ["a b", 0, "c"]), '$["a b"][0].c');
});

test("env: one schema for every ROUTERLAB_* variable the library reads, all documented in docs/environment.md", () => {
  const root = projectRoot();
  const doc = readFileSync(path.join(root, "docs", "environment.md"), "utf8");
  for (const v of ENV_VARIABLES) assert.match(doc, new RegExp(`\\| \`${v}\` \\|`), `${v} is in the table`);
  const raw: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith(".ts") && /process\.env(\.ROUTERLAB_|\["ROUTERLAB_)/.test(readFileSync(p, "utf8")))
        raw.push(p);
    }
  };
  walk(path.join(root, "lib"));
  assert.deepEqual(
    raw.map((p) => path.relative(root, p)),
    ["lib/util/env.ts"],
    "no raw process.env.ROUTERLAB_* reads outside lib/util/env.ts",
  );
  assert.deepEqual(parseEnv({ ROUTERLAB_QUIET: "true", ROUTERLAB_KNN_THREADS: "3", ROUTERLAB_OUT_DIR: "" }), {
    ROUTERLAB_QUIET: true,
    ROUTERLAB_KNN_THREADS: 3,
  });
  assert.throws(
    () => parseEnv({ ROUTERLAB_KNN_THREADS: "many" }),
    /\(environment\) field 'ROUTERLAB_KNN_THREADS'/,
  );
  assert.throws(() => parseEnv({ ROUTERLAB_QUIET: "yes" }), /ROUTERLAB_QUIET="yes"/);
});
