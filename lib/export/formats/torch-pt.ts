import { rowOf } from "../../embed/types";
import type { RouterState } from "../../routers/types";
import type { BundleFile, JsonValue } from "../artifacts";
import { mfBundle, mlpBundle } from "../artifacts";
import type { MfWeights, MlpWeights } from "../gateway-scoring";
import type { TorchDecoder } from "../bundle-decode";
import { decideTorch, decodeMfTorch, decodeMlpTorch } from "../bundle-decode";
import { mfDecide, mlpDecide } from "../gateway-scoring";
import { bakeOperatingPoint, operatingPointJson, scoreShiftOf } from "../operating-point";
import { mfWeightsOf, mlpWeightsOf } from "./state";
import type { ExportFormat, FormatContext, FormatOutput, OperatingPointSupport } from "./types";

/**
 * The gateway's torch routers: `<stem>.pt` (a torch state dict the gateway loads with weights_only=True and a strict
 * load_state_dict) + `<stem>.json` companion. One flavour per gateway strategy: MLP (contract §6.2), MF (§6.3).
 */
interface TorchFlavour<W extends { labels: readonly string[] }> {
  readonly id: string;
  readonly gatewayKind: "mlp" | "mf";
  readonly description: string;
  weightsOf(state: RouterState, where: string): W;
  bundle(w: W, stem: string, metadata: Record<string, JsonValue>): BundleFile[];
  /** The gateway's decision for one embedding row. */
  decide(w: W, row: Float32Array): string;
  /** Reads a published bundle of this layout back (publish-time re-scoring). */
  readonly decode: TorchDecoder;
  readonly operatingPoint: OperatingPointSupport;
}

function torchOutput<W extends { labels: readonly string[] }>(
  f: Pick<TorchFlavour<W>, "bundle" | "decide">,
  w: W,
  ctx: FormatContext,
  metadata: Record<string, JsonValue>,
): FormatOutput {
  const X = ctx.evalX;
  return {
    files: f.bundle(w, ctx.stem, metadata),
    labels: [...w.labels],
    decisions: Array.from({ length: X.rows }, (_, i) => f.decide(w, rowOf(X, i))),
  };
}

function torchFormat<W extends { labels: readonly string[] }>(f: TorchFlavour<W>): ExportFormat {
  return {
    id: f.id,
    gatewayKind: f.gatewayKind,
    description: f.description,
    writes: (stem) => [`${stem}.pt`, `${stem}.json`],
    env: () => ["LLMROUTER_ENFORCE_SIGNED_MODELS=true"],
    needsMlImage: true,
    operatingPoint: f.operatingPoint,
    rescore: (files, X) => decideTorch(f.decode, files, X),
    build: (state, ctx) => torchOutput(f, f.weightsOf(state, ctx.where), ctx, ctx.metadata),
  };
}

const torchMlpFlavour = { bundle: mlpBundle, decide: mlpDecide };

/**
 * A binary MLP (labels [strong, weak]) carries a threshold exactly: the strong output's bias moves by the cut on the
 * logit margin (lib/export/operating-point.ts), recorded in the companion JSON as `operating_point`.
 */
const mlpOperatingPoint: OperatingPointSupport = {
  bake(state, ctx, scores) {
    const m = mlpWeightsOf(state, ctx.where);
    const op = bakeOperatingPoint(m, scores.calibration, scores.strongOnCalibration, scoreShiftOf(state));
    const metadata = { ...ctx.metadata, operating_point: operatingPointJson(op.metadata) };
    return {
      output: torchOutput(torchMlpFlavour, { ...m, layers: op.value.layers }, ctx, metadata),
      expected: op.decide(scores.strongOnEval),
      operatingPoint: op.metadata,
      warnings: op.warnings,
    };
  },
};

export const torchMlpFormat = torchFormat<MlpWeights>({
  id: "torch-mlp",
  gatewayKind: "mlp",
  description: "torch .pt state dict + companion JSON (llmrouter-mlp)",
  weightsOf: mlpWeightsOf,
  ...torchMlpFlavour,
  decode: decodeMlpTorch,
  operatingPoint: mlpOperatingPoint,
});

export const torchMfFormat = torchFormat<MfWeights>({
  id: "torch-mf",
  gatewayKind: "mf",
  description: "torch .pt state dict + companion JSON (llmrouter-mf)",
  weightsOf: mfWeightsOf,
  bundle: mfBundle,
  decide: mfDecide,
  decode: decodeMfTorch,
  operatingPoint: {
    refusal:
      "the gateway's MF has no bias anywhere (contract §6.3): it always routes at win rate 0.5, so a calibrated " +
      "threshold cannot be stored in the file",
  },
});
