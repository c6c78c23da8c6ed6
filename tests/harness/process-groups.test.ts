import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { freePorts, spawnService, waitHealthy } from "./services";
import { testServices } from "../support/services";

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("service process handling", () => {
  test("stop() kills the whole process group, grandchildren included", async () => {
    const svc = spawnService("pgtest", "bash", ["-c", "sleep 300 & sleep 300 & echo started; wait"]);
    await waitHealthy(
      svc,
      "pgtest",
      async () => readFileSync(svc.logFile, "utf8").includes("started"),
      10_000,
    );
    assert.ok(groupAlive(svc.pgid));
    await svc.stop(2000);
    assert.equal(groupAlive(svc.pgid), false, "no process of the group is left");
    assert.ok(existsSync(svc.logFile), "the log is kept");
  });

  test("a service that dies during start-up fails fast with its log tail and log path", async () => {
    const svc = spawnService("dies", "bash", ["-c", "echo 'fatal: cannot bind the port' >&2; exit 3"]);
    const started = Date.now();
    await assert.rejects(
      waitHealthy(svc, "dies", async () => false, 30_000),
      (e: unknown) => {
        const msg = String(e);
        assert.match(msg, /dies exited during start-up \(code 3/);
        assert.match(msg, /fatal: cannot bind the port/);
        assert.ok(msg.includes(svc.logFile));
        return true;
      },
    );
    assert.ok(Date.now() - started < 10_000, "did not wait for the timeout");
    await svc.stop(1000);
  });

  test("a service that never gets healthy times out with the last check error", async () => {
    const svc = spawnService("hangs", "bash", ["-c", "echo waiting forever; sleep 300"]);
    await assert.rejects(
      waitHealthy(
        svc,
        "hangs",
        async () => {
          throw new Error("connection refused");
        },
        1500,
      ),
      /hangs was not healthy after 2s \(last check error: connection refused\)[\s\S]*waiting forever/,
    );
    await svc.stop(1000);
    assert.equal(groupAlive(svc.pgid), false);
  });

  test("freePorts returns distinct bindable ports", async () => {
    const ports = await freePorts(5);
    assert.equal(new Set(ports).size, 5);
    for (const p of ports) assert.ok(p > 1024 && p < 65536);
  });

  test("testServices() without the runner's environment names what is missing and how to run", () => {
    assert.throws(
      () => testServices({ PATH: "/usr/bin" }),
      (e: unknown) => {
        const msg = String(e);
        assert.match(msg, /ROUTERLAB_TEST_MLFLOW_URI/);
        assert.match(msg, /AWS_SECRET_ACCESS_KEY/);
        assert.match(msg, /run-suite\.js/);
        return true;
      },
    );
    const ok = testServices({
      ROUTERLAB_PYTHON: "/x/python",
      ROUTERLAB_TEST_MLFLOW_URI: "http://127.0.0.1:5",
      ROUTERLAB_TEST_S3_ENDPOINT: "http://127.0.0.1:6",
      ROUTERLAB_TEST_S3_BUCKET: "b",
      AWS_ACCESS_KEY_ID: "k",
      AWS_SECRET_ACCESS_KEY: "s",
      AWS_REGION: "us-east-1",
      MLFLOW_S3_ENDPOINT_URL: "http://127.0.0.1:6",
      ROUTERLAB_TEST_JUPYTER: "1",
    });
    assert.equal(ok.s3.endpoint, "http://127.0.0.1:6");
    assert.equal(ok.jupyter, true);
  });
});
