import { readFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import type { EmbeddingSpec } from "../embed/types";
import { readBundle } from "../export/s3-store";
import { verifyBundleDir } from "../export/bundle";
import { exportRouterState, gatewayEnv } from "../export/export-router";
import { formatOfBundleDir } from "../export/formats";
import type { ExportKind } from "../export/artifacts";
import { signingKeyFromEnv } from "../export/manifest";
import { publishToDir } from "../export/publish-dir";
import { MlflowRegistry } from "../export/registry";
import { promote, rollback, storeFromEnv, syncLoop, syncOnce, verifyCurrent } from "../export/s3-store";
import { loadGatewayModels } from "../export/safety";
import { GATEWAY_SKLEARN_VERSIONS } from "../export/sklearn-step";
import { EmbeddingSpecSchema } from "../embed/types";
import { loadRouterState } from "../routers/model-file";
import { loadRecord } from "../calibrate/record";
import { gatewayDecisions } from "../export/gateway-check";
import { checkOperatingPoint, readOperatingPoint } from "../export/operating-point";
import { RouterlabError } from "../util/errors";
import { projectRoot } from "../util/paths";
import { readF32, readJson } from "../util/read-files";

function printEnv(kind: ExportKind, served: string, signed: boolean, modelDir = "/app/models"): void {
  process.stdout.write(`\ngateway environment (${kind}):\n`);
  for (const l of gatewayEnv(
    kind,
    path.posix.join(modelDir, served),
    path.posix.join(modelDir, "manifest.json"),
    signed,
  )) {
    process.stdout.write(`  ${l}\n`);
  }
}

interface S3Opts {
  bucket: string;
  prefix?: string;
}
type VerifyOpts = Partial<S3Opts> & { s3?: string; requireSignature?: boolean; calibrationSet?: string };

export function registerExportCommands(program: Command): void {
  program
    .command("export")
    .description(
      "export a trained router to the files the RouteIQ gateway loads (.pt + .json, .pkl, or ELO .json) plus a manifest",
    )
    .argument("<router>", "trained router model file (<name>.router.json)")
    .requiredOption("--out <dir>", "bundle directory to write")
    .requiredOption(
      "--eval <file>",
      "evaluation embeddings (raw float32, 384 per row): exported decisions must equal routerlab's on every row",
    )
    .option(
      "--embedding-spec <file>",
      "JSON EmbeddingSpec of the training embeddings, overriding the model file's meta.embedding (export refuses when neither is known)",
    )
    .option(
      "--gateway-models <file>",
      "the gateway's LiteLLM model_list (YAML)",
      path.join(projectRoot(), "configs", "gateway-models.yaml"),
    )
    .option("--group <name>", "model group clients call (labels are checked against its deployments)")
    .option("--stem <name>", "file stem", "router")
    .option(
      "--train <file>",
      "SVM only: training embeddings (raw float32), when the model file keeps none (routerlab train stores them)",
    )
    .option(
      "--train-labels <file>",
      "SVM only: JSON array of the training labels (model strings), with --train",
    )
    .option(
      "--calibration <record>",
      "calibration record (routerlab calibrate): bake its threshold into the artifact (MLP/logreg/centroid; refused for KNN, SVM, MF, ELO)",
    )
    .option(
      "--calibration-set <file>",
      "with --calibration: embeddings (raw float32) of the record's calibration split, in its order",
    )
    .option(
      "--calibration-ids <file>",
      "with --calibration: JSON array of those rows' query ids, to check the record's data fingerprint",
    )
    .option(
      "--sklearn-version <v>",
      "KNN/SVM: scikit-learn of the target gateway build",
      GATEWAY_SKLEARN_VERSIONS.sklearn,
    )
    .option(
      "--numpy-version <v>",
      "KNN/SVM: numpy of the target gateway build",
      GATEWAY_SKLEARN_VERSIONS.numpy,
    )
    .action(
      async (
        routerFile: string,
        o: {
          out: string;
          eval: string;
          embeddingSpec?: string;
          gatewayModels: string;
          group?: string;
          stem: string;
          train?: string;
          trainLabels?: string;
          sklearnVersion: string;
          numpyVersion: string;
          calibration?: string;
          calibrationSet?: string;
          calibrationIds?: string;
        },
      ) => {
        const state = loadRouterState(routerFile);
        if (Boolean(o.calibration) !== Boolean(o.calibrationSet))
          throw new RouterlabError(
            "--calibration and --calibration-set go together (the record and its calibration rows' embeddings)",
          );
        const calibration =
          o.calibration && o.calibrationSet
            ? {
                record: loadRecord(o.calibration),
                recordFile: o.calibration,
                X: readF32(o.calibrationSet),
                ...(o.calibrationIds ? { queryIds: readJson(o.calibrationIds, z.array(z.string())) } : {}),
              }
            : undefined;
        const spec: EmbeddingSpec | undefined = o.embeddingSpec
          ? readJson(o.embeddingSpec, EmbeddingSpecSchema)
          : undefined;
        if (Boolean(o.train) !== Boolean(o.trainLabels))
          throw new RouterlabError(
            "--train and --train-labels go together (SVM training rows and their labels)",
          );
        const key = signingKeyFromEnv();
        const res = await exportRouterState(state, {
          outDir: o.out,
          evalX: readF32(o.eval),
          gatewayModels: loadGatewayModels(o.gatewayModels),
          gatewayModelsFile: o.gatewayModels,
          group: o.group,
          embeddingSpec: spec,
          embeddingSpecFile: o.embeddingSpec,
          routerFile,
          key,
          stem: o.stem,
          train:
            o.train && o.trainLabels
              ? { X: readF32(o.train), labels: readJson(o.trainLabels, z.array(z.string())) }
              : undefined,
          sklearnVersions: { ...GATEWAY_SKLEARN_VERSIONS, sklearn: o.sklearnVersion, numpy: o.numpyVersion },
          calibration,
          log: (m) => process.stderr.write(m + "\n"),
        });
        for (const w of res.warnings) process.stderr.write(`warning: ${w}\n`);
        process.stdout.write(
          `exported ${res.kind} router to ${res.dir}: ${res.files.join(", ")}, manifest.json (${key ? key.type + " signed" : "unsigned"})\n` +
            `decisions: ${res.agreement.equal}/${res.agreement.queries} evaluation queries equal routerlab's\n`,
        );
        const op = res.operatingPoint;
        if (op)
          process.stdout.write(
            `operating point: ${op.target.kind} ${op.target.value}, threshold ${op.threshold} (served ${op.served_threshold}); ` +
              `strong share on the calibration set ${(op.measured.calibration_share * 100).toFixed(2)}% ` +
              `(expected ${(op.expected.share_interval.lo * 100).toFixed(1)}-${(op.expected.share_interval.hi * 100).toFixed(1)}%)\n`,
          );
        printEnv(res.kind, res.served, Boolean(key));
      },
    );

  program
    .command("verify")
    .description(
      "verify a bundle directory the way the gateway does: lowercase SHA-256 per file, entry matching, signature",
    )
    .argument("[dir]", "bundle or gateway model directory holding manifest.json (not with --s3)")
    .option("--s3 <router>", "verify current/ in S3 instead (completing a torn copy first, as promote does)")
    .option("--bucket <bucket>", "with --s3: the bucket (endpoint from ROUTERLAB_S3_ENDPOINT)")
    .option("--prefix <prefix>", "with --s3: key prefix inside the bucket", "")
    .option("--require-signature", "fail when the manifest is unsigned")
    .option(
      "--calibration-set <file>",
      "for a bundle with an operating point: the calibration rows' embeddings (raw float32); the exported artifact, " +
        "loaded the gateway's way (Python), must route a share of them inside the recorded interval",
    )
    .action(async (dirArg: string | undefined, o: VerifyOpts) => {
      const opts = { requireSignature: Boolean(o.requireSignature) };
      if (o.s3 !== undefined) {
        if (dirArg !== undefined || o.calibrationSet !== undefined || o.bucket === undefined)
          throw new RouterlabError("--s3 takes --bucket, not a directory or --calibration-set");
        const v = await verifyCurrent(storeFromEnv(o.bucket, o.prefix), o.s3, opts);
        const how = v.completed
          ? "completed (left torn by a killed promote or rollback), then verified"
          : "verified";
        return void process.stdout.write(`ok: current/ = version ${v.version}, ${how}: ${v.checked}\n`);
      }
      if (dirArg === undefined)
        throw new RouterlabError("verify needs a directory, or --s3 <router> --bucket <bucket>");
      const dir = dirArg;
      const r = verifyBundleDir(dir, opts);
      if (!r.ok) {
        throw new RouterlabError(`verification failed:\n  ${r.problems.join("\n  ")}`, {
          file: path.join(dir, "manifest.json"),
        });
      }
      process.stdout.write(`ok: ${r.checked.join(", ")} (signature: ${r.signature})\n`);
      const op = readOperatingPoint(dir);
      if (!op) {
        if (o.calibrationSet)
          throw new RouterlabError("--calibration-set given but the bundle records no operating point", {
            file: path.join(dir, "manifest.json"),
            path: "$.metadata.operating_point",
          });
        return;
      }
      if (!o.calibrationSet) {
        process.stdout.write(
          `operating point recorded (${op.target.kind} ${op.target.value}); pass --calibration-set to re-measure its share\n`,
        );
        return;
      }
      const X = readF32(o.calibrationSet);
      const served = path.join(dir, r.checked[0]!);
      const decisions = gatewayDecisions(formatOfBundleDir(dir).gatewayKind, served, X);
      const c = checkOperatingPoint(op, X, decisions);
      if (!c.ok)
        throw new RouterlabError(`operating point check failed:\n  ${c.problems.join("\n  ")}`, {
          file: path.join(dir, "manifest.json"),
          path: "$.metadata.operating_point",
        });
      process.stdout.write(
        `operating point ok: ${(c.share * 100).toFixed(2)}% strong on ${X.rows} calibration rows ` +
          `(recorded ${(c.expectedShare * 100).toFixed(2)}%, interval ${(c.interval.lo * 100).toFixed(2)}-${(c.interval.hi * 100).toFixed(2)}%)\n`,
      );
    });

  program
    .command("promote")
    .description(
      "publish an exported bundle: to S3/MinIO (immutable version, conditional current pointer, MLflow alias champion) or to a shared gateway directory",
    )
    .argument("<bundle>", "bundle directory written by `routerlab export`")
    .requiredOption("--router <name>", "router name (the S3 folder and MLflow registered model)")
    .requiredOption("--why <text>", "reason, recorded in the audit log")
    .option("--bucket <bucket>", "S3 bucket (endpoint from AWS_ENDPOINT_URL_S3 / ROUTERLAB_S3_ENDPOINT)")
    .option("--prefix <prefix>", "key prefix inside the bucket", "")
    .option("--version <id>", "version id (default: time + served-file hash)")
    .option("--who <name>", "who promotes (default: $ROUTERLAB_USER or $USER)")
    .option("--provenance <file>", "JSON with run id, metrics, calibration and data fingerprint")
    .option("--run-id <id>", "MLflow run id that produced the router")
    .option("--mlflow <uri>", "MLflow tracking URI (default: $MLFLOW_TRACKING_URI)")
    .option("--to-dir <dir>", "instead of S3: publish directly into the directory the gateway reads")
    .action(
      async (
        bundle: string,
        o: S3Opts & {
          router: string;
          why: string;
          version?: string;
          who?: string;
          provenance?: string;
          runId?: string;
          mlflow?: string;
          toDir?: string;
        },
      ) => {
        const kind = formatOfBundleDir(bundle).gatewayKind;
        if (o.toDir) {
          const r = verifyBundleDir(bundle);
          if (!r.ok) throw new RouterlabError(`bundle does not verify: ${r.problems.join("; ")}`);
          const { files, manifest } = readBundle(bundle);
          const p = publishToDir(o.toDir, files, manifest);
          process.stdout.write(`published to ${o.toDir} in order ${p.order.join(" → ")}\n`);
          printEnv(kind, path.basename(p.served), r.signature === "verified", path.resolve(o.toDir));
          return;
        }
        if (!o.bucket) throw new RouterlabError("promote needs --bucket (or --to-dir)");
        const st = storeFromEnv(o.bucket, o.prefix);
        const uri = o.mlflow ?? process.env.MLFLOW_TRACKING_URI;
        const provenance = o.provenance ? readJson(o.provenance, z.record(z.string(), z.unknown())) : {};
        const res = await promote(st, {
          router: o.router,
          bundleDir: bundle,
          version: o.version,
          who: o.who,
          why: o.why,
          provenance: { ...provenance, ...(o.runId ? { run_id: o.runId } : {}) },
          runId: o.runId,
          registry: uri ? MlflowRegistry.fromUri(uri) : undefined,
        });
        process.stdout.write(
          `promoted ${o.router} ${res.version} (previous: ${res.previous ?? "none"})${res.mlflowVersion ? `, MLflow version ${res.mlflowVersion} = champion` : ""}\n` +
            `LLMROUTER_MODEL_S3_BUCKET=${o.bucket}\nLLMROUTER_MODEL_S3_KEY=${st.prefix}models/${o.router}/current/\n`,
        );
        printEnv(
          kind,
          res.pointer.served,
          readFileSync(path.join(bundle, "manifest.json"), "utf8").includes('"signature"'),
        );
      },
    );

  program
    .command("rollback")
    .description(
      "make the previous (or a named) version current again, restoring its exact bytes; recorded in the audit log",
    )
    .requiredOption("--router <name>", "router name")
    .requiredOption("--bucket <bucket>", "S3 bucket")
    .requiredOption("--why <text>", "reason, recorded in the audit log")
    .option("--prefix <prefix>", "key prefix inside the bucket", "")
    .option("--to <version>", "version to restore (default: previous)")
    .option("--who <name>", "who rolls back")
    .option("--mlflow <uri>", "MLflow tracking URI (default: $MLFLOW_TRACKING_URI)")
    .action(
      async (o: S3Opts & { router: string; why: string; to?: string; who?: string; mlflow?: string }) => {
        const uri = o.mlflow ?? process.env.MLFLOW_TRACKING_URI;
        const res = await rollback(storeFromEnv(o.bucket, o.prefix), {
          router: o.router,
          to: o.to,
          who: o.who,
          why: o.why,
          registry: uri ? MlflowRegistry.fromUri(uri) : undefined,
        });
        process.stdout.write(
          `rolled back ${o.router}: ${res.previous} → ${res.version}; sync sidecars install it on their next poll\n`,
        );
      },
    );

  program
    .command("sync")
    .description(
      "gateway sidecar: poll the current pointer, download, verify hashes and signature, and swap files into the gateway's model directory atomically",
    )
    .requiredOption("--router <name>", "router name")
    .requiredOption("--bucket <bucket>", "S3 bucket")
    .requiredOption("--gateway-dir <dir>", "the directory LLMROUTER_MODEL_PATH's file lives in")
    .option("--prefix <prefix>", "key prefix inside the bucket", "")
    .option("--interval <seconds>", "poll interval", "30")
    .option("--once", "poll once and exit")
    .option("--require-signature", "refuse unsigned manifests")
    .action(
      async (
        o: S3Opts & {
          router: string;
          gatewayDir: string;
          interval: string;
          once?: boolean;
          requireSignature?: boolean;
        },
      ) => {
        const st = storeFromEnv(o.bucket, o.prefix);
        const opts = {
          router: o.router,
          gatewayDir: o.gatewayDir,
          requireSignature: Boolean(o.requireSignature),
        };
        if (o.once) {
          const r = await syncOnce(st, opts);
          process.stdout.write(
            r.changed
              ? `installed ${o.router} ${r.version}\n`
              : `up to date (${r.version ?? "nothing promoted"})\n`,
          );
          return;
        }
        const ac = new AbortController();
        process.once("SIGTERM", () => ac.abort());
        process.once("SIGINT", () => ac.abort());
        await syncLoop(st, { ...opts, intervalMs: Number(o.interval) * 1000, signal: ac.signal });
      },
    );
}
