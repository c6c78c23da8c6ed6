/**
 * `routerlab retrain` end to end on a SIMULATED week of gateway traffic (lib/traffic/simulate, scripted score drift
 * halfway) collected by an in-process `collect` and labelled against the real sim server, in the scenario of
 * lib/traffic/retrain-demo (the weak tier serves wrong answers to one question family only: a learnable signal). The gate promotes an MLP trained on the
 * labels over a random champion, refuses an MLP trained on shuffled labels over that new champion, and a run killed
 * (SIGKILL) mid-way completes on re-run with the same gate evidence, reusing the steps it had finished.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import type { RunningSimServer } from "../../lib/llm/sim/server";
import { startSimServer } from "../../lib/llm/sim/server";
import { loadRecord } from "../../lib/calibrate/record";
import { readOperatingPoint } from "../../lib/export/operating-point";
import { readPointer, storeFromEnv } from "../../lib/export/s3-store";
import { loadRouterState } from "../../lib/routers/model-file";
import { MlflowClient } from "../../lib/tracking/client";
import type { GateDecision } from "../../lib/traffic/gate";
import { loadRetrainConfig } from "../../lib/traffic/retrain";
import {
  DEMO_SIM_MODELS,
  demoFacts,
  demoQuestions,
  demoTraffic,
  writeRandomChampion,
} from "../../lib/traffic/retrain-demo";
import { projectRoot } from "../../lib/util/paths";
import { removeTmpDirs, tmpDir, writeModelsFile } from "../oracle/support";
import { testServices } from "../support/services";
import { DISK_FAULTS, filesUnder, mountTmpfs, unmount } from "../support/tmpfs";
import type { ChildRun } from "../support/spawn";
import { runChild } from "../support/spawn";
import { collectInto } from "./support";

const WEAK = "openai/gpt-4o-mini";
const STRONG = "openai/gpt-4o";
const N = 400;

const servers: RunningSimServer[] = [];
after(async () => {
  for (const s of servers.splice(0)) await s.close();
  removeTmpDirs();
});

const cli = path.join(projectRoot(), "dist", "lib", "cli", "main.js");

function retrain(
  config: string,
  dir: string,
  onStart?: NonNullable<Parameters<typeof runChild>[2]>["onStart"],
  trackingUri?: string,
): Promise<ChildRun> {
  const args = [cli, "retrain", "--config", config, "--cache-dir", path.join(dir, "cache")];
  if (trackingUri !== undefined) args.push("--tracking-uri", trackingUri);
  return runChild(process.execPath, args, {
    env: {
      ...process.env,
      ROUTERLAB_QUIET: "1",
      ROUTERLAB_TRACKING_DIR: path.join(dir, "journal"),
      ROUTERLAB_S3_ENDPOINT: testServices().s3.endpoint,
    },
    timeoutMs: 300_000,
    ...(onStart ? { onStart } : {}),
  });
}

function writeConfig(
  dir: string,
  name: string,
  o: {
    dataset: string;
    models: string;
    champion: string;
    gatewayDir: string;
    shuffle: boolean;
    out: string;
    kind?: string;
    s3?: { bucket: string; prefix: string };
  },
): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      "labels:",
      `  dataset: ${o.dataset}`,
      `  models: ${o.models}`,
      "  judge: judge",
      "  tiers:",
      `    weak: { gateway: ${WEAK}, served: [${WEAK}], model: weak }`,
      `    strong: { gateway: ${STRONG}, served: [${STRONG}], model: strong }`,
      "  seed: 2",
      "heldOut: { fraction: 0.35, seed: 5 }",
      "router:",
      `  kind: ${o.kind ?? "mlp"}`,
      o.kind === undefined
        ? "  hyperparameters: { hiddenLayerSizes: [32], epochs: 40, validationFraction: 0 }"
        : "  hyperparameters: {}",
      `  shuffleLabels: ${o.shuffle}`,
      `champion: { model: ${o.champion} }`,
      "gate: { shares: [0.5], resamples: 500, level: 0.95, seed: 9 }",
      "calibration: { strongShare: 0.5 }",
      `promote: { gatewayDir: ${o.gatewayDir}${o.s3 ? `, s3: { bucket: ${o.s3.bucket}, prefix: ${o.s3.prefix}, router: traffic }` : ""} }`,
      "seed: 1",
      `tracking: { enabled: true, experiment: retrain-test }`,
      `output: { dir: ${o.out} }`,
      "",
    ].join("\n"),
  );
  return file;
}

const gateOf = (runDir: string) =>
  JSON.parse(readFileSync(path.join(runDir, "gate", "gate.json"), "utf8")) as GateDecision;

describe("routerlab retrain", () => {
  it("the shipped config parses; a bad field is named with its file; --help lists the options", async () => {
    const shipped = loadRetrainConfig(path.join(projectRoot(), "configs", "retrain.yaml"));
    assert.equal(shipped.router.kind, "mlp");
    const dir = tmpDir("retrain-config");
    const bad = path.join(dir, "bad.yaml");
    writeFileSync(
      bad,
      readFileSync(path.join(projectRoot(), "configs", "retrain.yaml"), "utf8").replace(
        "fraction: 0.3",
        "fraction: 1.5",
      ),
    );
    assert.throws(
      () => loadRetrainConfig(bad),
      (e: Error) => e.message.includes(bad) && /fraction/.test(e.message),
    );
    const help = await runChild(process.execPath, [cli, "retrain", "--help"], { timeoutMs: 30_000 });
    assert.equal(help.code, 0, help.stderr);
    for (const o of ["--config", "--models", "--cache-dir", "--tracking-uri", "--journal"])
      assert.match(help.stdout, new RegExp(o));
  });

  it("a simulated week: promotes a better challenger, refuses a worse one, resumes after a kill", async (t) => {
    const qs = demoQuestions(N);
    const sim = demoTraffic(qs);
    assert.ok(sim.requests.some((r) => r.drifted) && sim.requests.some((r) => !r.drifted));
    const dir = tmpDir("retrain");
    const dataset = path.join(dir, "traffic");
    await collectInto(dataset, sim.bodies);

    // both tiers answer every counterfactual right: a label says "strong" only where weak served a wrong answer
    const server = await startSimServer({ seed: 11, facts: demoFacts(qs), models: DEMO_SIM_MODELS });
    servers.push(server);
    const models = writeModelsFile(dir, server.url);
    const gatewayDir = path.join(dir, "gateway");

    // the champion the gateway serves today: a seeded random router
    const champion = await writeRandomChampion(path.join(dir, "champion", "champion"), 3, {
      weak: WEAK,
      strong: STRONG,
    });

    // 1. a challenger trained on the labels beats the random champion: promoted (gateway folder and S3 store), the new champion
    const svc = testServices();
    const s3 = { bucket: svc.s3.bucket, prefix: `retrain-test-${process.pid}-${Date.now()}` };
    const s3Store = storeFromEnv(s3.bucket, s3.prefix, {
      ...process.env,
      ROUTERLAB_S3_ENDPOINT: svc.s3.endpoint,
    });
    const better = writeConfig(dir, "better", {
      dataset,
      models,
      champion,
      gatewayDir,
      shuffle: false,
      out: path.join(dir, "run-better"),
      s3,
    });
    const r1 = await retrain(better, dir, undefined, svc.mlflowUri);
    assert.equal(r1.code, 0, r1.stderr);
    const g1 = gateOf(path.join(dir, "run-better"));
    t.diagnostic(`better: ${g1.reason}`);
    assert.equal(g1.promote, true, g1.reason);
    assert.ok(g1.atShare[0]!.lo > 0, g1.reason);
    assert.ok(g1.n >= 100, `held-out n ${g1.n}`);
    assert.match(r1.stdout, /promoted: .*router\.pt/);
    assert.deepEqual(readdirSync(gatewayDir).sort(), ["manifest.json", "router.json", "router.pt"]);
    const version = r1.stdout.match(/promoted in s3:\/\/\S+: traffic (\S+) \(previous: none\)/)![1]!;
    const pointer = await readPointer(s3Store, "traffic");
    assert.equal(pointer?.pointer.version, version);
    assert.equal(pointer?.pointer.why, g1.reason);
    assert.equal(loadRouterState(champion).kind, "mlp", "the challenger became the champion");
    const companion = JSON.parse(readFileSync(path.join(gatewayDir, "router.json"), "utf8")) as Record<
      string,
      unknown
    >;
    assert.match(JSON.stringify(companion), /operating_point_threshold/);
    // the operating point is baked into the served file: the library's calibration record of the challenger's
    // held-out scores, and the artifact loaded the gateway's way (Python) routes those rows inside its interval
    const exportDir = path.join(dir, "run-better", "export");
    const record = loadRecord(path.join(exportDir, "calibration.json"));
    assert.equal(record.target.value, 0.5);
    assert.equal(record.n.calibration, g1.n);
    assert.equal(record.resamples, 500);
    const op = readOperatingPoint(gatewayDir);
    assert.ok(op, "the published manifest records the operating point");
    assert.equal(op.threshold, record.threshold);
    assert.equal(op.calibration.fingerprint_checked, true);
    const verified = await runChild(
      process.execPath,
      [cli, "verify", gatewayDir, "--calibration-set", path.join(exportDir, "held-out.f32")],
      { timeoutMs: 120_000 },
    );
    assert.equal(verified.code, 0, verified.stderr);
    const share = Number(
      verified.stdout.match(/operating point ok: ([\d.]+)% strong on (\d+) calibration rows/)![1],
    );
    assert.ok(
      share / 100 >= record.intervals.share.lo! && share / 100 <= record.intervals.share.hi!,
      `${share}% outside the recorded interval`,
    );
    const runDir = r1.stdout.match(/tracking run \S+: (.+)$/m)![1]!;
    assert.ok(runDir.startsWith(path.join(dir, "journal")), runDir);
    const journal = readFileSync(path.join(runDir, "events.jsonl"), "utf8");
    assert.match(journal, /gate_s50_lo/);
    assert.match(journal, /"path":"calibration.json"/);
    // the gate's evidence reached the MLflow server
    const serverRun = await new MlflowClient(svc.mlflowUri).getRun(
      r1.stdout.match(/MLflow server run (\S+)/)![1]!,
    );
    assert.equal(serverRun.info.status, "FINISHED");
    const metrics = new Map(serverRun.data.metrics.map((x) => [x.key, Number(x.value)]));
    assert.equal(metrics.get("gate_s50_lo"), g1.atShare[0]!.lo);
    assert.equal(metrics.get("gate_promote"), 1);
    assert.equal(metrics.get("gate_n"), g1.n);
    assert.ok(serverRun.data.tags.some((x) => x.key === "gate.decision" && x.value === "promote"));
    const served = statSync(path.join(gatewayDir, "router.pt")).mtimeMs;
    const championBytes = readFileSync(champion);

    // a re-run of the finished retrain reuses every step (the champion it was gated against stays the snapshot)
    const again = await retrain(better, dir);
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stdout,
      /resumed: reused steps labels, embed, split, train, champion, score, gate, export, promote/,
    );
    assert.equal(statSync(path.join(gatewayDir, "router.pt")).mtimeMs, served);

    // 2. a challenger trained on shuffled labels is refused: the gateway folder and the champion stay as they are
    const worse = writeConfig(dir, "worse", {
      s3,
      dataset,
      models,
      champion,
      gatewayDir,
      shuffle: true,
      out: path.join(dir, "run-worse"),
    });
    const r2 = await retrain(worse, dir);
    assert.equal(r2.code, 0, r2.stderr);
    const g2 = gateOf(path.join(dir, "run-worse"));
    t.diagnostic(`worse: ${g2.reason}`);
    assert.equal(g2.promote, false, g2.reason);
    assert.ok(g2.atShare[0]!.diff < 0, g2.reason);
    assert.match(r2.stdout, /not promoted: the champion stays/);
    assert.match(r2.stdout, /keep the champion/);
    assert.equal(statSync(path.join(gatewayDir, "router.pt")).mtimeMs, served);
    assert.deepEqual(readFileSync(champion), championBytes);
    assert.equal(
      (await readPointer(s3Store, "traffic"))?.pointer.version,
      version,
      "the S3 pointer did not move",
    );
    assert.equal(existsSync(path.join(dir, "run-worse", "export.done")), false);

    // 3. the same retrain killed (SIGKILL) once its split is done, then re-run: the same evidence, finished steps reused
    const killedOut = path.join(dir, "run-killed");
    const killed = writeConfig(dir, "killed", {
      dataset,
      models,
      champion,
      gatewayDir,
      shuffle: true,
      out: killedOut,
    });
    const k = await retrain(killed, dir, (child) => {
      const poll = setInterval(() => {
        if (existsSync(path.join(killedOut, "split.done"))) {
          clearInterval(poll);
          child.kill("SIGKILL");
        }
      }, 20);
      child.on("close", () => clearInterval(poll));
    });
    assert.equal(k.signal, "SIGKILL", `not killed: ${k.stderr}`);
    assert.equal(existsSync(path.join(killedOut, "gate.done")), false, "killed before the gate");
    const r3 = await retrain(killed, dir);
    assert.equal(r3.code, 0, r3.stderr);
    t.diagnostic(`re-run after the kill: ${r3.stdout.split("\n").find((l) => l.includes("resumed")) ?? ""}`);
    assert.match(r3.stdout, /resumed: reused steps labels, embed, split/);
    assert.deepEqual(gateOf(killedOut), g2);
    assert.equal(
      readFileSync(path.join(killedOut, "score", "held-out.jsonl"), "utf8"),
      readFileSync(path.join(dir, "run-worse", "score", "held-out.jsonl"), "utf8"),
    );

    // 4. a KNN challenger (no exact threshold knob) against a fresh random champion: the gate promotes it, the export
    // step refuses the operating point with the library's reason, and nothing is published
    const knnChampion = await writeRandomChampion(path.join(dir, "champion-knn", "champion"), 4, {
      weak: WEAK,
      strong: STRONG,
    });
    const knnOut = path.join(dir, "run-knn");
    const knn = writeConfig(dir, "knn", {
      dataset,
      models,
      champion: knnChampion,
      gatewayDir,
      shuffle: false,
      out: knnOut,
      kind: "knn",
    });
    const knnChampionBytes = readFileSync(knnChampion);
    const r4 = await retrain(knn, dir);
    const g4 = gateOf(knnOut);
    t.diagnostic(`knn: ${g4.reason}`);
    assert.equal(g4.promote, true, g4.reason);
    assert.notEqual(r4.code, 0, "the export of a calibrated KNN must fail");
    assert.match(r4.stderr, /cannot export the calibrated operating point into a knn router/);
    assert.equal(existsSync(path.join(knnOut, "export.done")), false);
    assert.equal(existsSync(path.join(knnOut, "promote.begun")), false);
    assert.equal(statSync(path.join(gatewayDir, "router.pt")).mtimeMs, served);
    assert.deepEqual(readFileSync(knnChampion), knnChampionBytes);

    // 5. the run folder on a full disk or a read-only folder: a located error naming a path in it, no stack, no
    // staged temp file, and the gateway folder and the champion untouched
    for (const fault of DISK_FAULTS) {
      const mnt = path.join(dir, `mnt-${fault.opts.replace(/\W/g, "")}`);
      const skip = mountTmpfs(mnt, fault.opts);
      if (skip) {
        t.diagnostic(skip);
        break;
      }
      try {
        const cfg = writeConfig(dir, `fault-${fault.opts.replace(/\W/g, "")}`, {
          dataset,
          models,
          champion,
          gatewayDir,
          shuffle: true,
          out: path.join(mnt, "run"),
        });
        const r = await retrain(cfg, dir);
        const all = r.stdout + r.stderr;
        t.diagnostic(`${fault.name}: ${all.split("\n").find((l) => l.includes("cannot write")) ?? all}`);
        assert.equal(r.code, 1, all);
        assert.ok(all.includes(`${mnt}/run`) && /: cannot write: /.test(all), all);
        assert.match(all, fault.error);
        assert.match(all, /no partial file was left/);
        assert.doesNotMatch(all, /\n\s+at /, "no stack trace");
        const left = filesUnder(mnt);
        assert.deepEqual(
          left.filter((f) => /(^|\/)\.[^/]+\.(tmp|set)-\d+-[0-9a-f]{8}$/.test(f)),
          [],
          `no staged file: ${left.join(", ")}`,
        );
        assert.equal(statSync(path.join(gatewayDir, "router.pt")).mtimeMs, served);
        assert.deepEqual(readFileSync(champion), championBytes);
      } finally {
        unmount(mnt);
      }
    }
  });
});
