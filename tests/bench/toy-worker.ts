/**
 * A toy bench worker for tests/bench/worker.test.ts: setup counts itself and fails when TOY_SETUP_FAIL is set;
 * "env" returns TOY_VALUE as the child sees it, "count" increments state kept across commands, "fail" throws,
 * "noise" prints an untagged line before replying (the parent must ignore it).
 */
import { isBenchWorker, serveBenchWorker } from "../../bench/worker";

let setups = 0;

if (isBenchWorker()) {
  void serveBenchWorker(async () => {
    setups++;
    if (process.env.TOY_SETUP_FAIL) throw new Error("toy setup refused");
    let count = 0;
    return {
      env: () => process.env.TOY_VALUE ?? null,
      count: () => ++count,
      setups: () => setups,
      fail: () => {
        throw new Error("toy command failed");
      },
      noise: () => {
        process.stdout.write('{"not": "a reply"}\n');
        return "quiet";
      },
    };
  });
}
