import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { startBenchWorker } from "../../bench/worker";

const TOY = path.join(__dirname, "toy-worker.js");

describe("bench worker (one child process per routerlab thread setting)", () => {
  it("passes its environment to the child, sets up once and keeps state across commands", async () => {
    const w = startBenchWorker(TOY, { TOY_VALUE: "3" });
    try {
      assert.equal(await w.call("env"), "3");
      assert.equal(await w.call("count"), 1);
      assert.equal(await w.call("noise"), "quiet");
      assert.equal(await w.call("count"), 2);
      assert.equal(await w.call("setups"), 1);
    } finally {
      await w.close();
    }
  });

  it("answers concurrent commands in order", async () => {
    const w = startBenchWorker(TOY, {});
    try {
      assert.deepEqual(await Promise.all([w.call("count"), w.call("env"), w.call("count")]), [1, null, 2]);
    } finally {
      await w.close();
    }
  });

  it("rejects a failing or unknown command and keeps serving", async () => {
    const w = startBenchWorker(TOY, {});
    try {
      await assert.rejects(w.call("fail"), /toy command failed/);
      await assert.rejects(w.call("nope"), /unknown command 'nope'/);
      assert.equal(await w.call("count"), 1);
    } finally {
      await w.close();
    }
  });

  it("reports a failed setup on every command, and a closed worker refuses commands", async () => {
    const w = startBenchWorker(TOY, { TOY_SETUP_FAIL: "1" });
    await assert.rejects(w.call("count"), /setup failed: .*toy setup refused/);
    await w.close();
    await assert.rejects(w.call("count"), /has exited/);
  });
});
