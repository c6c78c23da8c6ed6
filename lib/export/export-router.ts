import type { EmbeddingMatrix, EmbeddingSpec } from "../embed/types";
import { routerEntry, routerFromState } from "../routers/registry";
import { embeddingSpecOf } from "../routers/model-file";
import type { RouterState } from "../routers/types";
import { RouterlabError } from "../util/errors";
import type { ExportKind, JsonValue } from "./artifacts";
import type { Manifest, SigningKey } from "./manifest";
import { writeBundleDir } from "./bundle";
import type { ExportFormat } from "./formats";
import { exportFormat, formatForGatewayKind } from "./formats";
import { assertSameDecisions } from "./gateway-check";
import type { CalibrationInput, OperatingPoint } from "./operating-point";
import { operatingPointJson, refuseOperatingPoint } from "./operating-point";
import { probeCheck } from "./rescore";
import type { GatewayModels } from "./safety";
import { checkEmbeddingSpec, checkLabels } from "./safety";
import type { SklearnVersions } from "./sklearn-step";

/** Gateway environment for a gateway strategy (§3, §9), printed on export and promotion. */
export function gatewayEnv(
  kind: ExportKind,
  servedPath: string,
  manifestPath: string,
  signed: boolean,
): string[] {
  const format = formatForGatewayKind(kind);
  if (!format) throw new RouterlabError(`no export format serves the gateway strategy llmrouter-${kind}`);
  if (format.gatewayEnv) return format.gatewayEnv(servedPath, manifestPath, signed);
  return [
    `ROUTEIQ_ROUTING_STRATEGY=llmrouter-${kind}`,
    `LLMROUTER_MODEL_PATH=${servedPath}`,
    `LLMROUTER_MODEL_MANIFEST_PATH=${manifestPath}`,
    ...format.env(signed),
    ...(format.needsMlImage ? ["# image: prod-ml (torch / scikit-learn / sentence-transformers)"] : []),
  ];
}

export interface ExportOptions {
  outDir: string;
  /** routerlab's evaluation embeddings: the exported files must make routerlab's decisions on every one. */
  evalX: EmbeddingMatrix;
  gatewayModels: GatewayModels;
  gatewayModelsFile?: string;
  group?: string;
  /** Overrides the spec recorded in the model file (`meta.embedding`); export refuses when neither is known. */
  embeddingSpec?: EmbeddingSpec;
  /** Where `embeddingSpec` was read from (errors about it name this file, not the router). */
  embeddingSpecFile?: string;
  routerFile?: string;
  key?: SigningKey;
  stem?: string;
  metadata?: Record<string, JsonValue>;
  /** SVM only: training rows, when the model file keeps none (`routerlab train` stores them for SVMs). */
  train?: { X: EmbeddingMatrix; labels: readonly string[] };
  sklearnVersions?: SklearnVersions;
  /** Bake this calibration record's threshold into the artifact (formats that carry one; others are refused). */
  calibration?: CalibrationInput;
  log?: (msg: string) => void;
}

export interface ExportResult {
  kind: ExportKind;
  dir: string;
  files: string[];
  served: string;
  manifest: Manifest;
  warnings: string[];
  agreement: { queries: number; equal: number };
  operatingPoint?: OperatingPoint;
}

/** The export format a router kind declares, or a clear error naming why the kind is not servable. */
export function formatOfKind(kind: string, where = `${kind} router`): ExportFormat {
  const entry = routerEntry(kind);
  if (entry.gatewayFormat === null)
    throw new RouterlabError(`router kind '${kind}' has no gateway export: ${entry.notServableReason}`, {
      file: where,
    });
  return exportFormat(entry.gatewayFormat);
}

/**
 * Exports a trained router (its RouterState) to gateway files in `outDir`, in the format its kind declares, after
 * the safety checks, and only if the exported files make routerlab's decisions on every evaluation query.
 */
export async function exportRouterState(state: RouterState, o: ExportOptions): Promise<ExportResult> {
  const where = o.routerFile ?? `${state.kind} router`;
  const format = formatOfKind(state.kind, where);
  checkEmbeddingSpec(
    o.embeddingSpec ?? embeddingSpecOf(state, where),
    o.embeddingSpec ? (o.embeddingSpecFile ?? "embedding spec") : where,
  );
  const op = format.operatingPoint;
  if (o.calibration && op.refusal !== undefined) refuseOperatingPoint(state.kind, op.refusal, where);
  const router = routerFromState(state);
  let expected = await router.predict({ X: o.evalX });
  const stem = o.stem ?? "router";
  const ctx = {
    outDir: o.outDir,
    stem,
    where,
    evalX: o.evalX,
    expected,
    metadata: { router_kind: state.kind, ...(o.metadata ?? {}) },
    train: o.train,
    sklearnVersions: o.sklearnVersions,
    log: o.log,
  };
  let built;
  let operatingPoint: OperatingPoint | undefined;
  if (o.calibration && op.bake) {
    const strongP = async (X: EmbeddingMatrix): Promise<Float64Array> => {
      const p = (await router.score({ X })).strongProbability;
      if (!p)
        throw new RouterlabError("a calibrated threshold needs a binary router (P(strong) per query)", {
          file: where,
          field: "--calibration",
        });
      return p;
    };
    const baked = op.bake(state, ctx, {
      calibration: o.calibration,
      strongOnCalibration: await strongP(o.calibration.X),
      strongOnEval: await strongP(o.evalX),
    });
    built = baked.output;
    expected = [...baked.expected];
    operatingPoint = baked.operatingPoint;
    baked.warnings.forEach((w) => o.log?.(`warning: ${w}`));
  } else built = format.build(state, ctx);
  const { warnings } = checkLabels(built.labels, o.gatewayModels, {
    group: o.group,
    file: o.gatewayModelsFile,
  });
  const kind = format.gatewayKind;
  assertSameDecisions(expected, built.decisions, `${kind} export`);
  const manifest = writeBundleDir(o.outDir, built.files, {
    kind,
    key: o.key,
    description: `routerlab ${kind} router`,
    metadata: {
      router_kind: state.kind,
      probe_check: probeCheck(kind, built.files),
      ...(built.metadata ?? {}),
      ...(operatingPoint ? { operating_point: operatingPointJson(operatingPoint) } : {}),
    },
  });
  return {
    kind,
    dir: o.outDir,
    files: built.files.map((f) => f.name),
    served: built.files.find((f) => f.served)!.name,
    manifest,
    warnings,
    agreement: { queries: expected.length, equal: expected.length },
    ...(operatingPoint ? { operatingPoint } : {}),
  };
}
