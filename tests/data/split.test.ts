import assert from "node:assert/strict";
import { test } from "node:test";
import type { RoutingData } from "../../lib/data/routing";
import {
  applySplit,
  dropLeakedTestRows,
  kFold,
  leakageReport,
  normalizeQuery,
  trainTestSplit,
} from "../../lib/data/split";
import { llmrouterRouting } from "../../lib/data/bundled";
import { tempDir } from "./helpers";

function synthetic(n: number): RoutingData {
  const queries: string[] = [];
  const groups: string[] = [];
  for (let i = 0; i < n; i++) {
    // every 10th query repeats an earlier one with different case / whitespace / width
    queries.push(i % 10 === 9 ? `  QUESTION   number ${i - 5}\n` : `question number ${i}`);
    groups.push(i % 4 === 0 ? "a" : i % 4 === 1 ? "b" : "c");
  }
  return {
    name: "synthetic",
    queryIds: queries.map((_q, i) => `q${i}`),
    queries,
    models: ["m"],
    quality: new Float64Array(n).fill(1),
    cost: new Float64Array(n).fill(0.1),
    groups,
  };
}

test("normalisation: NFKC + lowercase + collapsed whitespace + trim", () => {
  assert.equal(normalizeQuery("  Ｈｅｌｌｏ\u00a0 WORLD\n\t!  "), "hello world !");
  assert.equal(normalizeQuery("ﬁne"), "fine");
});

test("trainTestSplit: seeded, partitions the rows, keeps identical normalised queries on one side", () => {
  const d = synthetic(1000);
  const s = trainTestSplit(d, { testFraction: 0.2, seed: 7, dedupe: true });
  assert.equal(s.train.length + s.test.length, 1000);
  assert.equal(new Set([...s.train, ...s.test]).size, 1000);
  const { train, test: te } = applySplit(d, s);
  assert.equal(leakageReport(train, te).overlappingQueries, 0);
  assert.ok(Math.abs(s.test.length - 200) <= 20, `test size ${s.test.length}`);
  assert.deepEqual(trainTestSplit(d, { testFraction: 0.2, seed: 7 }), s, "same seed, same split");
  assert.notDeepEqual(trainTestSplit(d, { testFraction: 0.2, seed: 8 }).test, s.test);
  // without dedupe the duplicates do leak: the check above is not vacuous
  const leaky = applySplit(d, trainTestSplit(d, { testFraction: 0.5, seed: 7, dedupe: false }));
  assert.ok(leakageReport(leaky.train, leaky.test).overlappingQueries > 0);
});

test("stratified split keeps each group's share within one unit of the fraction", () => {
  const d = synthetic(400);
  const s = trainTestSplit(d, { testFraction: 0.25, seed: 3, stratifyBy: "group" });
  for (const g of ["a", "b", "c"]) {
    const total = d.groups!.filter((x) => x === g).length;
    const inTest = s.test.filter((i) => d.groups![i] === g).length;
    assert.ok(Math.abs(inTest - total * 0.25) <= 2, `${g}: ${inTest} of ${total}`);
  }
  assert.throws(
    () => trainTestSplit({ ...d, groups: undefined }, { testFraction: 0.2, seed: 1, stratifyBy: "group" }),
    /no groups/,
  );
  assert.throws(() => trainTestSplit(d, { testFraction: 1, seed: 1 }), RangeError);
});

test("kFold: k disjoint test folds covering every row once, no query on both sides of any fold", () => {
  const d = synthetic(503);
  const folds = kFold(d, { k: 5, seed: 11, stratifyBy: "group" });
  assert.equal(folds.length, 5);
  const seen = new Int32Array(503);
  for (const f of folds) {
    for (const i of f.test) seen[i]! += 1;
    assert.equal(f.train.length + f.test.length, 503);
    const { train, test: te } = applySplit(d, f);
    assert.equal(leakageReport(train, te).overlappingQueries, 0);
    assert.ok(f.test.length >= 90 && f.test.length <= 112, `fold size ${f.test.length}`);
  }
  assert.ok(seen.every((c) => c === 1));
  assert.throws(() => kFold(d, { k: 1, seed: 1 }), RangeError);
});

test("bundled LLMRouter: the given split leaks 119 questions; a deduped re-split of train+test leaks none", () => {
  const t = tempDir();
  try {
    const train = llmrouterRouting("train", { quarantineDir: t.dir }).data;
    const testSet = llmrouterRouting("test", { quarantineDir: t.dir }).data;
    const leak = leakageReport(train, testSet);
    assert.equal(leak.overlappingQueries, 119);
    assert.ok(leak.examples.length > 0);
    assert.equal(dropLeakedTestRows(train, testSet).queryIds.length, 500 - 119);
    const all: RoutingData = {
      ...train,
      queryIds: [...train.queryIds, ...testSet.queryIds],
      queries: [...train.queries, ...testSet.queries],
      quality: Float64Array.from([...train.quality, ...testSet.quality]),
      cost: Float64Array.from([...train.cost, ...testSet.cost]),
      groups: [...train.groups!, ...testSet.groups!],
    };
    const s = applySplit(all, trainTestSplit(all, { testFraction: 0.1, seed: 42, stratifyBy: "group" }));
    assert.equal(leakageReport(s.train, s.test).overlappingQueries, 0);
  } finally {
    t.cleanup();
  }
});
