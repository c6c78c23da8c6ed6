import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { projectRoot } from "../../lib/util/paths";

const root = projectRoot();

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return markdownFiles(p);
    return name.endsWith(".md") ? [p] : [];
  });
}

const inside = (p: string): boolean => !path.relative(root, p).startsWith("..");

/** Every Markdown link target and every mention of a `.md` file in README.md and docs/ resolves inside the repo. */
describe("documentation references resolve", () => {
  const docs = [path.join(root, "README.md"), ...markdownFiles(path.join(root, "docs"))];

  it("finds the docs, including the gateway contract and the metric definitions", () => {
    for (const f of ["docs/gateway-contract.md", "docs/metrics.md"])
      assert.ok(existsSync(path.join(root, f)), f);
    assert.ok(docs.length >= 10);
  });

  for (const doc of docs) {
    const rel = path.relative(root, doc);
    it(`${rel}: links and .md mentions resolve to files in the repository`, () => {
      const text = readFileSync(doc, "utf8").replace(/<https?:[^>]*>|https?:\/\/\S+/g, "");
      const dir = path.dirname(doc);
      const problems: string[] = [];
      for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = m[1]!;
        if (/^(mailto:|#)/.test(target)) continue;
        const file = path.resolve(dir, decodeURIComponent(target.split("#")[0]!));
        if (!inside(file) || !existsSync(file)) problems.push(`link ${target}`);
      }
      for (const m of text.matchAll(/(?<![\w/.-])([\w./-]+\.md)\b/g)) {
        const name = m[1]!;
        const candidates = [path.resolve(dir, name), path.resolve(root, name), path.join(root, "docs", name)];
        if (!candidates.some((c) => inside(c) && existsSync(c))) problems.push(`mention ${name}`);
      }
      assert.deepEqual(problems, [], `${rel} refers to files that are not in the repository`);
    });
  }
});
