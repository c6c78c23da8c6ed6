import { RouterlabError } from "../../util/errors";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Manifest } from "../manifest";
import { parseManifest } from "../manifest";
import { centroidNpyFormat } from "./centroid-npy";
import { eloJsonFormat } from "./elo-json";
import { sklearnKnnFormat, sklearnSvmFormat } from "./sklearn-pickle";
import { torchMfFormat, torchMlpFormat } from "./torch-pt";
import type { ExportFormat } from "./types";

export type { ExportFormat, FormatContext, FormatOutput, OperatingPointSupport } from "./types";

/** Every gateway export format, one line each. A router entry names one by id (`gatewayFormat`). */
const FORMATS: readonly ExportFormat[] = [
  torchMlpFormat,
  torchMfFormat,
  sklearnKnnFormat,
  sklearnSvmFormat,
  eloJsonFormat,
  centroidNpyFormat,
];

export function exportFormats(): readonly ExportFormat[] {
  return FORMATS;
}

export function exportFormat(id: string): ExportFormat {
  const f = FORMATS.find((x) => x.id === id);
  if (!f)
    throw new RouterlabError(`unknown export format '${id}'; known: ${FORMATS.map((x) => x.id).join(", ")}`, {
      file: "export format",
    });
  return f;
}

/** The format serving a gateway strategy `llmrouter-<gatewayKind>` (e.g. from a manifest tag), if any. */
export function formatForGatewayKind(kind: string): ExportFormat | undefined {
  return FORMATS.find((f) => f.gatewayKind === kind);
}

/** The format of a bundle's served file, named by its manifest tag; a manifest without a known tag is refused. */
export function formatOfManifest(m: Manifest, file: string): ExportFormat {
  const tag = m.artifacts[0]?.tags?.[0];
  const f = tag === undefined ? undefined : formatForGatewayKind(tag);
  if (!f)
    throw new RouterlabError(
      `manifest does not name a known router type (tag '${tag}'; known: ${FORMATS.map((x) => x.gatewayKind).join(", ")})`,
      { file, field: "artifacts[0].tags[0]" },
    );
  return f;
}

/** The format of the bundle (or gateway model folder) `dir`, from its manifest.json. */
export function formatOfBundleDir(dir: string): ExportFormat {
  const file = path.join(dir, "manifest.json");
  return formatOfManifest(parseManifest(readFileSync(file, "utf8"), file), file);
}
