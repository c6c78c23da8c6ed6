import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { Config, Side } from "../../bench/protocol";
import {
  SEARCH_BUDGET,
  compare,
  median,
  verdict,
  threadCounts,
  threadLabel,
  timeResult,
  withAreaLoad,
  withThreadEnv,
} from "../../bench/protocol";

const TOY = path.join(__dirname, "toy-peer.js");

/** One run of the toy peer command; its 2-thread configuration is deliberately slowed by `thrashMs` per thread. */
function toyPeer(threads: number, thrashMs: number): Config {
  return {
    label: threadLabel(threads),
    run: () => {
      const out = execFileSync(process.execPath, [TOY, String(threads), String(thrashMs)], {
        encoding: "utf8",
      });
      return (JSON.parse(out) as { seconds: number }).seconds;
    },
  };
}

/** A busy-loop process per core while `fn` runs: the machine under load. */
async function underBusyLoad<T>(fn: () => Promise<T>): Promise<T> {
  const loops = threadCounts().map(() => spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
  try {
    return await fn();
  } finally {
    for (const p of loops) p.kill("SIGKILL");
  }
}

const quiet = (): number => 0.5;
const silent = (): void => {};

describe("bench protocol", () => {
  for (const slowedFirst of [true, false])
    it(`keeps the peer's fastest configuration under a busy-loop load (slowed 2-thread config ${slowedFirst ? "first" : "last"})`, async () => {
      const configs = [toyPeer(2, 400), toyPeer(1, 0)];
      if (!slowedFirst) configs.reverse();
      const peer: Side = { name: "toy peer", configs };
      const ours: Side = { name: "ours", configs: [{ label: "fixed", run: () => 0.1 }] };
      const c = await underBusyLoad(() =>
        compare(ours, peer, { rounds: 2, loadAverage: quiet, log: silent }),
      );
      assert.equal(c.peer.config, "1 thread", `search times ${c.peer.searchSeconds.join(", ")}`);
      assert.equal(c.peer.samples.length, 2);
      const slowed = c.peer.searchSeconds[configs.findIndex((x) => x.label === "2 threads")]!;
      assert.ok(slowed > c.peer.median, `slowed ${slowed} s vs kept ${c.peer.median} s`);
      const r = timeResult("toy.seconds", c, { factor: 1, text: "<= peer" });
      assert.equal(r.peer, `toy peer, 1 thread (best of ${configs.map((x) => x.label).join(" / ")})`);
    });

  it("interleaves the two sides, searches every configuration once and reports medians of the kept ones", async () => {
    const calls: string[] = [];
    const times: Record<string, number[]> = { o1: [5], o2: [2, 3, 1], p1: [4, 7, 6], p2: [9] };
    const cfg = (label: string): Config => ({
      label,
      run: () => {
        calls.push(label);
        return times[label]!.shift()!;
      },
    });
    const c = await compare(
      { name: "ours", configs: [cfg("o1"), cfg("o2")] },
      { name: "peer", configs: [cfg("p1"), cfg("p2")] },
      { rounds: 3, loadAverage: quiet, log: silent },
    );
    assert.deepEqual(calls, ["o1", "p1", "o2", "p2", "o2", "p1", "o2", "p1"]);
    assert.equal(c.ours.config, "o2");
    assert.equal(c.peer.config, "p1");
    assert.deepEqual(c.ours.samples, [2, 3, 1]);
    assert.deepEqual(c.peer.samples, [4, 7, 6]);
    assert.equal(c.ours.median, 2);
    assert.equal(c.peer.median, 6);
    const r = timeResult("x.seconds", c, { factor: 1, text: "<= peer" });
    assert.equal(r.ratio, 3);
    assert.equal(r.met, true);
    assert.equal(r.noisy, false);
  });

  it("offers each search run a budget of SEARCH_BUDGET x the side's best so far; a run that gives up is never kept", async () => {
    const budgets: (number | undefined)[] = [];
    const cfg = (label: string, seconds: number): Config => ({
      label,
      run: (budget) => {
        budgets.push(budget);
        return budget !== undefined && seconds > budget ? Infinity : seconds;
      },
    });
    const c = await compare(
      { name: "ours", configs: [cfg("o", 1)] },
      { name: "peer", configs: [cfg("1 thread", 2), cfg("2 threads", 90), cfg("3 threads", 5)] },
      { rounds: 2, loadAverage: quiet, log: silent },
    );
    // search: o (none), 1 thread (none), 2 threads (3 x 2), 3 threads (3 x 2); then rounds without a budget
    assert.deepEqual(budgets, [
      undefined,
      undefined,
      SEARCH_BUDGET * 2,
      SEARCH_BUDGET * 2,
      undefined,
      undefined,
    ]);
    assert.deepEqual(c.peer.searchSeconds, [2, null, 5]);
    assert.equal(c.peer.config, "1 thread");
    assert.deepEqual(c.peer.samples, [2, 2]);
  });

  it("marks a figure taken above the core count noisy and never met", async () => {
    const side = (name: string, s: number): Side => ({
      name,
      configs: [{ label: "1 thread", run: () => s }],
    });
    const loads = [0.4, 3.1];
    const c = await compare(side("ours", 1), side("peer", 10), {
      rounds: 1,
      cores: 2,
      loadAverage: () => loads.shift() ?? 0,
      log: silent,
    });
    assert.deepEqual(c.load, { before: 0.4, after: 3.1 });
    assert.equal(c.noisy, true);
    const r = timeResult("x.seconds", c, { factor: 1, text: "<= peer" });
    assert.equal(r.met, false, "ours is 10x faster, but the figure is noisy");
    assert.equal(r.noisy, true);
    assert.equal(verdict(r), "noisy");
    assert.equal(verdict({ ...r, noisy: false, met: true }), "met");
    assert.equal(verdict({ ...r, noisy: false, met: null }), "info");
  });

  it("median follows its definition", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { minLength: 1, maxLength: 30 }),
        (xs) => {
          const m = median(xs);
          const below = xs.filter((x) => x < m).length;
          const above = xs.filter((x) => x > m).length;
          return below <= xs.length / 2 && above <= xs.length / 2;
        },
      ),
    );
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 2, 3]), 2.5);
  });

  it("sets and restores the BLAS/OpenMP thread variables", async () => {
    const before = process.env.OMP_NUM_THREADS;
    const seen = await withThreadEnv(1, () =>
      execFileSync(
        process.execPath,
        ["-e", "process.stdout.write(process.env.OMP_NUM_THREADS + ' ' + process.env.OPENBLAS_NUM_THREADS)"],
        {
          encoding: "utf8",
        },
      ),
    );
    assert.equal(seen, "1 1");
    assert.equal(process.env.OMP_NUM_THREADS, before);
    assert.deepEqual(threadCounts(2), [1, 2]);
  });

  it("figures outside the timing protocol get the area's load: above the core count noisy and never met", () => {
    const base = { unit: "spans/s", peer: null, peerValue: null, ratio: null, goal: ">= 1" };
    const figures = [
      { ...base, name: "a.met", value: 2, met: true },
      { ...base, name: "a.info", value: 2, met: null },
      { ...base, name: "a.own", value: 2, met: true, load: { before: 0.1, after: 0.2 } },
    ];
    const quiet = withAreaLoad(figures, { before: 0.5, after: 1.5 }, 2);
    assert.deepEqual(
      quiet.map((r) => [verdict(r), r.load]),
      [
        ["met", { before: 0.5, after: 1.5 }],
        ["info", { before: 0.5, after: 1.5 }],
        ["met", { before: 0.1, after: 0.2 }],
      ],
    );
    const loaded = withAreaLoad(figures, { before: 1, after: 2.5 }, 2);
    assert.deepEqual(
      loaded.map((r) => [verdict(r), r.met]),
      [
        ["noisy", false],
        ["noisy", null],
        ["met", true],
      ],
    );
  });

  it("an accuracy figure keeps its verdict under any load (the load is stamped, it is not noisy)", () => {
    const base = {
      unit: "AIQ",
      peer: null,
      peerValue: null,
      ratio: null,
      goal: "> 0.5",
      accuracy: true as const,
    };
    const figures = [
      { ...base, name: "e.met", value: 0.6, met: true },
      { ...base, name: "e.not", value: 0.4, met: false },
    ];
    const loaded = withAreaLoad(figures, { before: 9, after: 12 }, 2);
    assert.deepEqual(
      loaded.map((r) => [verdict(r), r.met, r.noisy, r.load]),
      [
        ["met", true, undefined, { before: 9, after: 12 }],
        ["not met", false, undefined, { before: 9, after: 12 }],
      ],
    );
  });
});
