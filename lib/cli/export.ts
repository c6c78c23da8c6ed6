import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import type { EmbeddingMatrix, EmbeddingSpec } from "../embed/types";
import { readBundle } from "../export/s3-store";
import { verifyBundleDir } from "../export/bundle";
import { exportRouterState, gatewayEnv } from "../export/export-router";
import { formatForGatewayKind } from "../export/formats";
import type { ExportKind } from "../export/artifacts";
import { signingKeyFromEnv } from "../export/manifest";
import { publishToDir } from "../export/publish-dir";
import { MlflowRegistry } from "../export/registry";
import { promote, rollback, storeFromEnv, syncLoop, syncOnce } from "../export/s3-store";
import { loadGatewayModels } from "../export/safety";
import { GATEWAY_SKLEARN_VERSIONS } from "../export/sklearn-step";
import { EmbeddingSpecSchema } from "../embed/types";
import { loadRouterState } from "../routers/model-file";
import { RouterlabError } from "../util/errors";
import { projectRoot } from "../util/paths";
import { parseWith } from "../util/zod-error";

function readJson<S extends z.ZodType>(file: string, schema: S): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new RouterlabError(`cannot read JSON: ${(e as Error).message}`, { file });
  }
  return parseWith(schema, raw, { file, jsonPath: "$" });
}

/** Raw little-endian float32 rows (`.f32`), `dim` wide. */
function readF32(file: string, dim = 384): EmbeddingMatrix {
  if (!existsSync(file)) throw new RouterlabError("file not found", { file });
  const b = readFileSync(file);
  if (b.length % (dim * 4) !== 0)
    throw new RouterlabError(`size ${b.length} is not a multiple of ${dim} float32 values`, { file });
  const data = new Float32Array(b.length / 4);
  for (let i = 0; i < data.length; i++) {
    const v = b.readFloatLE(i * 4);
    if (!Number.isFinite(v))
      throw new RouterlabError(`non-finite value ${v} at row ${Math.floor(i / dim)}, column ${i % dim}`, {
        file,
        field: `row ${Math.floor(i / dim)}`,
      });
    data[i] = v;
  }
  return { data, rows: data.length / dim, dim };
}

function kindOfDir(dir: string): ExportKind {
  const m = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8")) as {
    artifacts?: { tags?: string[] }[];
  };
  const tag = m.artifacts?.[0]?.tags?.[0];
  return tag !== undefined && formatForGatewayKind(tag) ? tag : "mlp";
}

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
        },
      ) => {
        const state = loadRouterState(routerFile);
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
          log: (m) => process.stderr.write(m + "\n"),
        });
        for (const w of res.warnings) process.stderr.write(`warning: ${w}\n`);
        process.stdout.write(
          `exported ${res.kind} router to ${res.dir}: ${res.files.join(", ")}, manifest.json (${key ? key.type + " signed" : "unsigned"})\n` +
            `decisions: ${res.agreement.equal}/${res.agreement.queries} evaluation queries equal routerlab's\n`,
        );
        printEnv(res.kind, res.served, Boolean(key));
      },
    );

  program
    .command("verify")
    .description(
      "verify a bundle directory the way the gateway does: lowercase SHA-256 per file, entry matching, signature",
    )
    .argument("<dir>", "bundle or gateway model directory holding manifest.json")
    .option("--require-signature", "fail when the manifest is unsigned")
    .action((dir: string, o: { requireSignature?: boolean }) => {
      const r = verifyBundleDir(dir, { requireSignature: Boolean(o.requireSignature) });
      if (!r.ok) {
        throw new RouterlabError(`verification failed:\n  ${r.problems.join("\n  ")}`, {
          file: path.join(dir, "manifest.json"),
        });
      }
      process.stdout.write(`ok: ${r.checked.join(", ")} (signature: ${r.signature})\n`);
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
        const kind = kindOfDir(bundle);
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
