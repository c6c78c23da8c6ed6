/**
 * The calibrated operating point in the exported artifact (issue 17 item 1, contract §6.5).
 *
 * A calibration record says "route to strong iff P(strong) >= t". The gateway applies no threshold, so the only
 * formats that can serve it are those whose own arithmetic reproduces that rule: the binary MLP (and the logistic
 * regression served as an MLP with no hidden layer). With softmax over [strong, weak], P(strong) = σ(z_s − z_w + c)
 * (c: a shift the router already applies to its score), so P(strong) >= t  <=>  z_s − z_w >= ln(t/(1−t)) − c; moving
 * b_N[strong] down by that amount turns the gateway's argmax (ties to index 0 = strong) into the rule.
 *
 * Exactness against float32: the cut is not placed at ln(t/(1−t)) − c itself but in the middle of the gap, on the
 * calibration rows, between the largest margin sent to weak and the smallest sent to strong. Every threshold in that
 * gap makes the same decisions on the calibration set (so the realised share and cost are the record's), and the
 * midpoint keeps every calibration row as far as possible from the float32 boundary torch computes. The threshold
 * actually served (`served_threshold`) is recorded next to the calibrated one. After rounding the new bias to
 * float32, every calibration row is re-decided with the gateway's formula; a single difference refuses the export.
 *
 * KNN votes, MF (no bias anywhere, §6.3), ELO (ignores the query) and the refitted SVC pickle have no such knob:
 * an export with a calibration record is refused for them, naming the reason and what to do instead.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { dataFingerprint } from "../calibrate/calibrate";
import type { CalibrationRecord } from "../calibrate/record";
import type { EmbeddingMatrix } from "../embed/types";
import type { CentroidRouter } from "../routers/centroid";
import { RouterlabError } from "../util/errors";
import { sha256Hex } from "../util/hash";
import type { JsonValue } from "./artifacts";
import type { MlpWeights } from "./gateway-scoring";
import { mlpLogits } from "../routers/nn/gateway";
import { sigmoid } from "../util/logistic";
import { parseWith } from "../util/zod-error";

/** What export needs to bake a calibration record: the record and the calibration rows' embeddings. */
export interface CalibrationInput {
  readonly record: CalibrationRecord;
  readonly recordFile?: string;
  /** Embeddings of the calibration split's queries (the rows the record's threshold was chosen on). */
  readonly X: EmbeddingMatrix;
  /** Their query ids, in the same order: when given, the record's data fingerprint is checked against them. */
  readonly queryIds?: readonly string[];
}

const INSTEAD =
  "export a servable thresholdable scorer instead (router kind mlp or logreg on the same data, calibrated the same " +
  "way), or retrain this router with labels derived from the rule you want (contract §6.5), or export without " +
  "--calibration (the router then routes at its own argmax, not at the calibrated share)";

/** Refuses an export with a calibration record for a router whose format has no exact threshold knob (`why`). */
export function refuseOperatingPoint(kind: string, why: string, where: string): never {
  throw new RouterlabError(
    `cannot export the calibrated operating point into a ${kind} router: ${why}; nothing was written`,
    { file: where, field: "--calibration" },
    INSTEAD,
  );
}

const Interval = z.object({ lo: z.number(), hi: z.number() });

/** The operating point as recorded in the bundle's manifest metadata (`operating_point`). */
export const OperatingPointSchema = z.object({
  schema: z.literal("routerlab.operating_point.v1"),
  rule: z.literal("strong iff P(strong) >= threshold"),
  models: z.object({ weak: z.string(), strong: z.string() }),
  target: z.object({ kind: z.enum(["share", "cost", "pgr"]), value: z.number() }),
  threshold: z.number(),
  served_threshold: z.number(),
  expected: z.object({
    level: z.number(),
    share: z.number(),
    share_interval: Interval,
    cost: z.number().optional(),
    cost_interval: Interval.optional(),
  }),
  measured: z.object({ calibration_share: z.number(), rows: z.int().positive() }),
  calibration: z.object({
    router: z.string(),
    dataset: z.string(),
    fingerprint: z.string(),
    fingerprint_checked: z.boolean(),
    embeddings_sha256: z.string().regex(/^[0-9a-f]{64}$/),
    seed: z.int(),
    resamples: z.int(),
    created_at: z.string(),
  }),
  /** Half the gap (logit, or lambda for centroids) the served cut sits in on the calibration rows: its float margin. */
  boundary_half_gap: z.number(),
});
export type OperatingPoint = z.infer<typeof OperatingPointSchema>;

/** sha256 of the rows as little-endian float32 bytes (the `.f32` file layout). */
export function embeddingsSha256(X: EmbeddingMatrix): string {
  const b = Buffer.alloc(X.rows * X.dim * 4);
  for (let i = 0; i < X.rows * X.dim; i++) b.writeFloatLE(X.data[i]!, i * 4);
  return sha256Hex(b);
}

const logit = (p: number): number => Math.log(p / (1 - p));

function margins(m: MlpWeights, X: EmbeddingMatrix): Float64Array {
  const z = mlpLogits(m, X);
  return Float64Array.from({ length: X.rows }, (_, r) => z[r * 2]! - z[r * 2 + 1]!);
}

export interface BakedOperatingPoint<T> {
  /** What gets exported: the MLP weights with the shifted bias, or the centroid router at the chosen lambda. */
  readonly value: T;
  readonly metadata: OperatingPoint;
  /** routerlab's thresholded score at the served threshold: the decisions the exported files must make. */
  decide(scores: ArrayLike<number>): string[];
  readonly warnings: string[];
}

interface Served<T> {
  readonly value: T;
  /** The cut on the margin actually served (after any rounding). */
  readonly servedCut: number;
  /** The threshold on routerlab's score equivalent to the served cut. */
  readonly servedThreshold: number;
  /** The exported artifact's decision on each calibration row, computed with the gateway's formula (true = strong). */
  readonly strongOnCalibration: readonly boolean[];
}

/**
 * The common part: checks the record against the router and the calibration rows, puts the cut on `margin` (a
 * quantity the score is increasing in, computed the gateway's way) in the middle of the calibration gap containing
 * the record's threshold, lets `serve` build the artifact for that cut, and checks that the artifact decides every
 * calibration row like `score >= t`.
 */
function bakeCut<T>(
  cal: CalibrationInput,
  models: { strong: string; weak: string },
  p: ArrayLike<number>,
  margin: ArrayLike<number>,
  serve: (cut: number) => Served<T>,
  unit: string,
): BakedOperatingPoint<T> {
  const rec = cal.record;
  const where = cal.recordFile ?? "calibration record";
  const { strong, weak } = models;
  if (rec.models && (rec.models[0] !== weak || rec.models[1] !== strong))
    throw new RouterlabError(
      `the record calibrates [weak, strong] = [${rec.models.join(", ")}] but the router routes between weak ${weak} and strong ${strong}`,
      { file: where, path: "$.models" },
    );
  if (cal.X.rows !== rec.n.calibration)
    throw new RouterlabError(
      `the calibration set has ${cal.X.rows} rows but the record was calibrated on ${rec.n.calibration}`,
      { file: where, path: "$.n.calibration" },
      "pass the embeddings of the record's calibration split, in its order",
    );
  const t = rec.threshold;
  if (!(t > 0 && t < 1))
    throw new RouterlabError(
      `threshold ${t} is not strictly between 0 and 1: it sends every query to one model, no artifact encodes it`,
      { file: where, path: "$.threshold" },
    );
  const shareIv = rec.intervals.share;
  if (shareIv.lo === null || shareIv.hi === null)
    throw new RouterlabError("the record has no share interval", { file: where, path: "$.intervals.share" });
  let fingerprintChecked = false;
  if (cal.queryIds) {
    if (dataFingerprint(cal.queryIds, p) !== rec.fingerprint)
      throw new RouterlabError(
        "the router's scores on the calibration rows do not reproduce the record's data fingerprint: the record was " +
          "calibrated on other scores (another model, another split, or another row order)",
        { file: where, path: "$.fingerprint" },
      );
    fingerprintChecked = true;
  }
  let lo = -Infinity;
  let hi = Infinity;
  let nStrong = 0;
  for (let i = 0; i < cal.X.rows; i++) {
    if (p[i]! >= t) {
      nStrong++;
      hi = Math.min(hi, margin[i]!);
    } else lo = Math.max(lo, margin[i]!);
  }
  if (!(lo < hi))
    throw new RouterlabError(
      "the router's score is not monotone in the gateway's margin on the calibration rows",
      { file: where },
    );
  const gap = lo === -Infinity || hi === Infinity ? 0.1 : hi - lo;
  const cut = lo === -Infinity ? hi - gap / 2 : hi === Infinity ? lo + gap / 2 : (lo + hi) / 2;
  const served = serve(cut);
  let disagree = 0;
  for (let i = 0; i < cal.X.rows; i++) if (served.strongOnCalibration[i] !== p[i]! >= t) disagree++;
  if (disagree > 0)
    throw new RouterlabError(
      `the exported artifact, decided with the gateway's formula, differs from \`score >= ${t}\` on ${disagree} ` +
        `calibration rows; refusing to export a router that is not the calibrated one`,
      { file: where, path: "$.threshold" },
    );
  const share = nStrong / cal.X.rows;
  if (share < shareIv.lo || share > shareIv.hi)
    throw new RouterlabError(
      `this router sends ${(share * 100).toFixed(2)}% of the calibration rows to strong at threshold ${t}, outside the ` +
        `record's interval [${(shareIv.lo * 100).toFixed(2)}%, ${(shareIv.hi * 100).toFixed(2)}%]: the record was not ` +
        `calibrated on this router's scores`,
      { file: where, path: "$.intervals.share" },
      "calibrate this very model's scores on the calibration split (routerlab calibrate), then export",
    );
  const halfGap = Math.min(served.servedCut - lo, hi - served.servedCut);
  const warnings: string[] = [];
  if (halfGap < 1e-5)
    warnings.push(
      `the served cut is only ${halfGap.toExponential(2)} (${unit}) from a calibration row: the gateway's float32 arithmetic may decide that row differently`,
    );
  const costIv = rec.intervals.cost;
  const expected: OperatingPoint["expected"] = {
    level: rec.intervals.level,
    share: rec.calibration.share,
    share_interval: { lo: shareIv.lo, hi: shareIv.hi },
    ...(rec.calibration.cost !== null ? { cost: rec.calibration.cost } : {}),
    ...(costIv && costIv.lo !== null && costIv.hi !== null
      ? { cost_interval: { lo: costIv.lo, hi: costIv.hi } }
      : {}),
  };
  const metadata: OperatingPoint = {
    schema: "routerlab.operating_point.v1",
    rule: "strong iff P(strong) >= threshold",
    models: { weak, strong },
    target: rec.target,
    threshold: t,
    served_threshold: served.servedThreshold,
    expected,
    measured: { calibration_share: share, rows: cal.X.rows },
    calibration: {
      router: rec.router,
      dataset: rec.dataset,
      fingerprint: rec.fingerprint,
      fingerprint_checked: fingerprintChecked,
      embeddings_sha256: embeddingsSha256(cal.X),
      seed: rec.seed,
      resamples: rec.resamples,
      created_at: rec.createdAt,
    },
    boundary_half_gap: Number.isFinite(halfGap) ? halfGap : 1,
  };
  const st = served.servedThreshold;
  return {
    value: served.value,
    metadata: OperatingPointSchema.parse(metadata),
    decide: (sc) => Array.from(sc, (v) => (v >= st ? strong : weak)),
    warnings,
  };
}

/**
 * Bakes the record's threshold into a binary gateway MLP (labels [strong, weak]). `scores` computes routerlab's
 * P(strong) per row; `scoreShift` is c in P(strong) = σ(z_s − z_w + c) for these weights.
 */
export function bakeOperatingPoint(
  m: MlpWeights,
  cal: CalibrationInput,
  calibrationScores: ArrayLike<number>,
  scoreShift: number,
): BakedOperatingPoint<MlpWeights> {
  const last = m.layers[m.layers.length - 1]!;
  if (m.labels.length !== 2 || last.outDim !== 2)
    throw new RouterlabError(
      `a calibrated threshold needs a binary router (2 outputs: strong, weak); this one has ${m.labels.length}`,
      { file: cal.recordFile ?? "calibration record", field: "models" },
    );
  const [strong, weak] = m.labels as [string, string];
  const b = last.bias;
  return bakeCut(
    cal,
    { strong, weak },
    calibrationScores,
    margins(m, cal.X),
    (cut) => {
      const newStrongBias = Math.fround(b[0]! - cut);
      const baked: MlpWeights = {
        ...m,
        layers: [...m.layers.slice(0, -1), { ...last, bias: new Float32Array([newStrongBias, b[1]!]) }],
      };
      // The cut actually served, after float32 rounding of the bias.
      const servedCut = b[0]! - newStrongBias;
      return {
        value: baked,
        servedCut,
        servedThreshold: sigmoid(servedCut + scoreShift),
        strongOnCalibration: Array.from(margins(baked, cal.X), (v) => v >= 0),
      };
    },
    "logit",
  );
}

/**
 * Moves a centroid router along its family (lib/routers/centroid.ts) to the record's threshold: its score is
 * σ(λ_e − λ0), so `score >= t` is `λ_e >= λ0 + logit(t)`, and the served λ is the middle of that gap on the
 * calibration rows. The gateway then sends a row to complex iff λ_e > λ.
 */
export function bakeCentroidOperatingPoint(
  router: CentroidRouter,
  cal: CalibrationInput,
  models: { strong: string; weak: string },
): BakedOperatingPoint<CentroidRouter> {
  const lambda0 = router.hp.lambda;
  return bakeCut(
    cal,
    models,
    router.score({ X: cal.X }).strongProbability!,
    router.switchLambda({ X: cal.X }),
    (cut) => {
      const moved = router.withLambda(cut);
      return {
        value: moved,
        servedCut: cut,
        servedThreshold: sigmoid(cut - lambda0),
        strongOnCalibration: moved.predict({ X: cal.X }).map((d) => d === models.strong),
      };
    },
    "lambda",
  );
}

/**
 * The shift c of a router state's P(strong) = σ(z_s − z_w + c): a state trained with a baked threshold t0
 * (`meta.threshold`, an MLP's) has ln(t0/(1−t0)); without one, 0.
 */
export function scoreShiftOf(state: { meta: Record<string, unknown> }): number {
  return logit(Number(state.meta.threshold ?? 0.5));
}

export function operatingPointJson(op: OperatingPoint): Record<string, JsonValue> {
  return JSON.parse(JSON.stringify(op)) as Record<string, JsonValue>;
}

export interface OperatingPointCheck {
  readonly ok: boolean;
  readonly share: number;
  readonly interval: { lo: number; hi: number };
  readonly expectedShare: number;
  readonly problems: string[];
}

/** Reads the operating point recorded in a bundle's manifest, if any. */
export function readOperatingPoint(dir: string): OperatingPoint | undefined {
  const file = path.join(dir, "manifest.json");
  let manifest: { metadata?: Record<string, unknown> };
  try {
    manifest = JSON.parse(readFileSync(file, "utf8")) as { metadata?: Record<string, unknown> };
  } catch (e) {
    throw new RouterlabError(`cannot read manifest: ${(e as Error).message}`, { file });
  }
  const raw = manifest.metadata?.operating_point;
  if (raw === undefined) return undefined;
  return parseWith(OperatingPointSchema, raw, { file, jsonPath: "$.metadata.operating_point" });
}

/**
 * Re-measures the exported artifact's strong share on the calibration set (`decisions`: the artifact's own
 * decisions on `X`, e.g. loaded the gateway's way) and checks it lies in the recorded interval.
 */
export function checkOperatingPoint(
  op: OperatingPoint,
  X: EmbeddingMatrix,
  decisions: readonly string[],
): OperatingPointCheck {
  const problems: string[] = [];
  if (embeddingsSha256(X) !== op.calibration.embeddings_sha256)
    problems.push(
      "these embeddings are not the calibration set the operating point was recorded on (sha256 differs)",
    );
  if (decisions.length !== X.rows) problems.push(`${decisions.length} decisions for ${X.rows} rows`);
  const share = decisions.filter((d) => d === op.models.strong).length / Math.max(1, decisions.length);
  const iv = op.expected.share_interval;
  if (share < iv.lo || share > iv.hi)
    problems.push(
      `the exported router sends ${(share * 100).toFixed(2)}% to strong on the calibration set, outside the recorded ` +
        `interval [${(iv.lo * 100).toFixed(2)}%, ${(iv.hi * 100).toFixed(2)}%]`,
    );
  return { ok: problems.length === 0, share, interval: iv, expectedShare: op.expected.share, problems };
}
