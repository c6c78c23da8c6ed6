import type { EmbeddingMatrix } from "../../embed/types";
import type { RouterState } from "../../routers/types";
import type { BundleFile, JsonValue } from "../artifacts";
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
}

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
}
