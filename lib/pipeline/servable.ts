import type { DeterministicCpt } from "../eval/deterministic-cpt";
import { deterministicCpt } from "../eval/deterministic-cpt";
import type { RouterEvaluation } from "../eval/evaluate";
import { exportFormat } from "../export/formats/index";
import { escapeHtml, htmlTable } from "../plots/plotly";
import { routerEntry } from "../routers/registry";

/**
 * Which of the main job's scorers the gateway can serve, read from each kind's registry entry (its gateway format,
 * or the reason it has none) and that format's operating-point support; the best servable one, and the gap to the
 * best one the gateway cannot serve. No list of kinds here: a new kind declares its serving in lib/routers.
 */

/** One scorer of a dataset, with the registry kind that produced its scores. */
export interface ScorerInput {
  readonly evaluation: RouterEvaluation;
  readonly kind: string;
  readonly scores: Float64Array;
}

export interface ScorerServing {
  readonly router: string;
  readonly kind: string;
  /** The export format id, or null when the gateway cannot compute the score. */
  readonly gatewayFormat: string | null;
  /** Why the gateway cannot serve it (null when it can). */
  readonly notServableReason: string | null;
  /** The format can carry a calibrated threshold exactly (`routerlab export --calibration`). */
  readonly carriesOperatingPoint: boolean;
  /** Why it cannot (null when it can, or when the scorer is not servable at all). */
  readonly operatingPointRefusal: string | null;
  readonly apgr: number | null;
  /** CPT(50%) interpolated inside a tie group, as in the paper (metrics.md §7). */
  readonly cpt50Interpolated: number | null;
  /** CPT(50%) a served artifact reaches with one fixed threshold (metrics.md §7a). */
  readonly cpt50Deterministic: DeterministicCpt;
}

export interface ServableGap {
  /** APGR of the recommended scorer minus that of the best unservable one (negative: the gateway loses). */
  readonly apgr: number | null;
  /** Deterministic CPT(50%) of the recommended minus the best unservable one (positive: more strong calls). */
  readonly cpt50Deterministic: number | null;
  readonly cpt50Interpolated: number | null;
}

export interface ServableSummary {
  readonly scorers: ScorerServing[];
  /**
   * The best servable scorer (by APGR) whose format carries a calibrated threshold; when none does, the best servable
   * one. Null when nothing is servable.
   */
  readonly recommended: ScorerServing | null;
  readonly bestUnservable: ScorerServing | null;
  /** Recommended versus best unservable; null when either is missing. */
  readonly gap: ServableGap | null;
}

export function scorerServing(s: ScorerInput, yWeak: Float64Array, yStrong: Float64Array): ScorerServing {
  const entry = routerEntry(s.kind);
  const format = entry.gatewayFormat === null ? null : exportFormat(entry.gatewayFormat);
  const refusal = format?.operatingPoint.refusal ?? null;
  return {
    router: s.evaluation.router,
    kind: s.kind,
    gatewayFormat: entry.gatewayFormat,
    notServableReason: entry.gatewayFormat === null ? entry.notServableReason : null,
    carriesOperatingPoint: format !== null && refusal === null,
    operatingPointRefusal: refusal,
    apgr: s.evaluation.summary.apgr,
    cpt50Interpolated: s.evaluation.summary.cpt50.value,
    cpt50Deterministic: deterministicCpt(s.scores, yWeak, yStrong, 0.5),
  };
}

const byApgr = (a: ScorerServing | null, b: ScorerServing): ScorerServing =>
  a === null || (b.apgr ?? -Infinity) > (a.apgr ?? -Infinity) ? b : a;

const diff = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : a - b);

export function servableSummary(
  scorers: readonly ScorerInput[],
  yWeak: Float64Array,
  yStrong: Float64Array,
): ServableSummary {
  const all = scorers.map((s) => scorerServing(s, yWeak, yStrong));
  const servable = all.filter((s) => s.gatewayFormat !== null);
  const withThreshold = servable.filter((s) => s.carriesOperatingPoint);
  const recommended = (withThreshold.length > 0 ? withThreshold : servable).reduce<ScorerServing | null>(
    byApgr,
    null,
  );
  const bestUnservable = all
    .filter((s) => s.gatewayFormat === null)
    .reduce<ScorerServing | null>(byApgr, null);
  const gap =
    recommended && bestUnservable
      ? {
          apgr: diff(recommended.apgr, bestUnservable.apgr),
          cpt50Deterministic: diff(
            recommended.cpt50Deterministic.value,
            bestUnservable.cpt50Deterministic.value,
          ),
          cpt50Interpolated: diff(recommended.cpt50Interpolated, bestUnservable.cpt50Interpolated),
        }
      : null;
  return { scorers: all, recommended, bestUnservable, gap };
}

const pct = (v: number | null): string => (v === null ? "not reached" : `${(v * 100).toFixed(1)}%`);
const pts = (v: number | null): string =>
  v === null ? "n/a" : `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)} pts`;
const num = (v: number | null): string => (v === null ? "n/a" : `${v >= 0 ? "+" : ""}${v.toFixed(3)}`);

function servingNote(s: ScorerServing, long: boolean): string {
  if (s.gatewayFormat === null) return `not servable: ${s.notServableReason}`;
  if (s.carriesOperatingPoint) return `servable (${s.gatewayFormat}), calibrated threshold baked in`;
  return (
    `servable (${s.gatewayFormat}) at its own decision rule, no calibrated threshold` +
    (long ? `: ${s.operatingPointRefusal}` : "")
  );
}

/** The plain-text block `npm start` prints under a dataset's table. */
export function servableLines(s: ServableSummary): string[] {
  const lines = [
    `  ${"served by the gateway?".padEnd(24)} ${"CPT(50%) fixed t".padStart(16)} ${"interpolated*".padStart(13)}`,
  ];
  for (const x of s.scorers)
    lines.push(
      `  ${x.router.padEnd(24)} ${pct(x.cpt50Deterministic.value).padStart(16)} ${pct(x.cpt50Interpolated).padStart(13)}  ${servingNote(x, false)}`,
    );
  lines.push(
    "  * interpolated inside a group of tied scores, as in the paper; a served threshold reaches the first column",
  );
  if (s.recommended) {
    lines.push(`  recommended for the gateway: ${s.recommended.router} (${s.recommended.gatewayFormat})`);
    if (s.bestUnservable && s.gap)
      lines.push(
        `  gap to the best unservable scorer (${s.bestUnservable.router}): APGR ${num(s.gap.apgr)}, ` +
          `CPT(50%) ${pts(s.gap.cpt50Deterministic)} with a fixed threshold (${pts(s.gap.cpt50Interpolated)} interpolated)`,
      );
  } else lines.push("  no scorer of this job can be served by the gateway");
  return lines;
}

/** The report section: the same content as `servableLines`, as an HTML table (htmlTable escapes every cell). */
export function servableHtml(s: ServableSummary): string {
  const table = htmlTable(
    ["router", "APGR", "CPT(50%), fixed threshold", "CPT(50%), interpolated as in the paper", "gateway"],
    s.scorers.map((x) => [
      x.router,
      x.apgr === null ? "n/a" : x.apgr.toFixed(3),
      pct(x.cpt50Deterministic.value),
      pct(x.cpt50Interpolated),
      servingNote(x, true),
    ]),
  );
  // The notes under the table: the recommendation and the gap, as in the printed summary.
  const notes = servableLines(s).slice(1 + s.scorers.length);
  return `<h2>What the gateway can serve</h2>${table}${notes.map((n) => `<p>${escapeHtml(n.trim())}</p>`).join("")}`;
}

/** The summary.json form. */
export function servableJson(s: ServableSummary): object {
  return {
    scorers: s.scorers.map((x) => ({
      router: x.router,
      kind: x.kind,
      gatewayFormat: x.gatewayFormat,
      notServableReason: x.notServableReason,
      carriesOperatingPoint: x.carriesOperatingPoint,
      operatingPointRefusal: x.operatingPointRefusal,
      apgr: x.apgr,
      cpt50Deterministic: x.cpt50Deterministic.value,
      cpt50DeterministicThreshold: x.cpt50Deterministic.threshold,
      cpt50Interpolated: x.cpt50Interpolated,
    })),
    recommended: s.recommended?.router ?? null,
    bestUnservable: s.bestUnservable?.router ?? null,
    gap: s.gap,
  };
}
