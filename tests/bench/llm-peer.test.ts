import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pythonThroughput, startSim, stopSim } from "../../bench/llm";

describe("llm. peer configurations", () => {
  it("the openai package's peer runs with each HTTP client the protocol tries, without errors", async () => {
    const sim = await startSim();
    try {
      for (const client of ["httpx", "aiohttp"] as const) {
        const r = await pythonThroughput(sim.url, `test-${client}`, client, 50);
        assert.ok(r.seconds > 0 && r.cpuSeconds > 0, `${client}: ${JSON.stringify(r)}`);
      }
      await assert.rejects(
        pythonThroughput(sim.url, "test-bad", "requests" as "httpx", 5),
        /python peer exited with/,
      );
    } finally {
      await stopSim(sim);
    }
  });
});
