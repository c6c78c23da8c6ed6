import type { EmbeddingMatrix } from "../../embed/types";
import type { RouterState } from "../../routers/types";
import type { BundleFile, JsonValue } from "../artifacts";
import type { CalibrationInput, OperatingPoint } from "../operating-point";
import type { SklearnVersions } from "../sklearn-step";

/** What an export format gets besides the router state. */
export interface FormatContext {
  /** Bundle directory (a format that runs an external step writes its files here first). */
  readonly outDir: string;
  /** File stem: `<stem>.pt`, `<stem>.json`, `<stem>.pkl`. */
  readonly stem: string;
  /** Names the model file in errors. */
  readonly where: string;
  /** routerlab's evaluation embeddings, and routerlab's decisions on them (the agreement check's reference). */
  readonly evalX: EmbeddingMatrix;
  readonly expected: readonly string[];
  /** Extra companion metadata (router kind, run id...). */
  readonly metadata: Record<string, JsonValue>;
  /** Training rows, for a format that refits (scikit-learn's SVC) when the model file keeps none. */
  readonly train?: { X: EmbeddingMatrix; labels: readonly string[] };
  readonly sklearnVersions?: SklearnVersions;
  readonly log?: (msg: string) => void;
}

/** The files a format wrote, the model labels they route to, and the gateway-exact decisions on `evalX`. */
export interface FormatOutput {
  readonly files: BundleFile[];
  readonly labels: string[];
  /** Decisions of the written files, scored exactly as the gateway scores them. */
  readonly decisions: readonly string[];
  /** Extra manifest metadata the format records (e.g. which model each centroid tier stands for). */
  readonly metadata?: Record<string, JsonValue>;
}

/** A calibration record to bake, with routerlab's P(strong) on its rows and on the evaluation rows. */
export interface CalibrationScores {
  readonly calibration: CalibrationInput;
  readonly strongOnCalibration: Float64Array;
  readonly strongOnEval: Float64Array;
}

/** A bundle carrying a calibrated operating point, and the decisions it must make on the evaluation rows. */
export interface BakedFormatOutput {
  readonly output: FormatOutput;
  /** routerlab's thresholded decisions on `evalX` at the served threshold. */
  readonly expected: readonly string[];
  readonly operatingPoint: OperatingPoint;
  readonly warnings: readonly string[];
}

/** Whether a format can store a calibrated threshold exactly (and how), or why it cannot. */
export type OperatingPointSupport =
  | {
      bake(state: RouterState, ctx: FormatContext, scores: CalibrationScores): BakedFormatOutput;
      readonly refusal?: undefined;
    }
  | { readonly bake?: undefined; readonly refusal: string };

/**
 * One gateway file format. A router entry names its format by `id` (lib/routers, `gatewayFormat`); the format
 * reads that router's state, so it needs no list of router kinds. Register it in lib/export/formats/index.ts.
 */
export interface ExportFormat {
  readonly id: string;
  /** The gateway strategy is `llmrouter-<gatewayKind>`; also the manifest tag of the served file. */
  readonly gatewayKind: string;
  readonly description: string;
  /** Names of the files it writes for a stem (served file first). */
  writes(stem: string): string[];
  /** Gateway environment beyond strategy, model path and manifest path (e.g. the pickle switches). */
  env(signed: boolean): string[];
  /** The gateway image needs the ML stack (torch / scikit-learn / sentence-transformers). */
  readonly needsMlImage: boolean;
  build(state: RouterState, ctx: FormatContext): FormatOutput;
  /** `routerlab export --calibration`: bakes the record's threshold into the files, or the reason it cannot. */
  readonly operatingPoint: OperatingPointSupport;
  /**
   * Loads written files with this format's decoder (lib/export/bundle-decode.ts) and decides `X` the gateway's way,
   * one line per row (the decision, then the scores or parameters' digest behind it): the publish-time probe check.
   */
  rescore(files: readonly BundleFile[], X: EmbeddingMatrix): string[];
  /**
   * The whole gateway environment, for a format the gateway does not load from LLMROUTER_MODEL_PATH; unset = the
   * strategy, model path and manifest path lines followed by `env(signed)`.
   */
  gatewayEnv?(servedPath: string, manifestPath: string, signed: boolean): string[];
}
