/**
 * The common in-memory shape of "routing data": N queries x M candidate models, with the observed
 * quality and cost of every model on every query. Every router, metric and report consumes this.
 *
 * Matrices are row-major Float64Arrays of length N*M (query-major): value(q, m) = arr[q * M + m].
 * NaN marks a missing observation (model not run on that query).
 */
export interface RoutingData {
  /** Dataset name, e.g. "routellm-mmlu". */
  readonly name: string;
  /** Stable id per query (unique). */
  readonly queryIds: readonly string[];
  /** Query text exactly as the gateway would embed it (see lib/data/query-text.ts). */
  readonly queries: readonly string[];
  /** Candidate model labels: exact model names. */
  readonly models: readonly string[];
  /** Quality in [0, 1] (or the benchmark's native scale, see qualityScale). */
  readonly quality: Float64Array;
  /** USD cost of answering the query with the model; NaN when unknown. */
  readonly cost: Float64Array;
  /** Seconds; NaN when unknown. */
  readonly latency?: Float64Array;
  /** Optional per-query group (subject, task name), used for stratified splits and reports. */
  readonly groups?: readonly string[];
  readonly qualityScale?: { min: number; max: number };
}

export function nQueries(d: RoutingData): number {
  return d.queryIds.length;
}

export function nModels(d: RoutingData): number {
  return d.models.length;
}

export function qualityAt(d: RoutingData, q: number, m: number): number {
  return d.quality[q * d.models.length + m]!;
}

export function costAt(d: RoutingData, q: number, m: number): number {
  return d.cost[q * d.models.length + m]!;
}

export function modelIndex(d: RoutingData, model: string): number {
  const i = d.models.indexOf(model);
  if (i < 0) throw new Error(`model '${model}' is not in ${d.name} (models: ${d.models.join(", ")})`);
  return i;
}

/** The subset of rows `rows` (in that order), sharing model columns. */
export function selectRows(d: RoutingData, rows: readonly number[]): RoutingData {
  const m = d.models.length;
  const pick = (arr: Float64Array): Float64Array => {
    const out = new Float64Array(rows.length * m);
    rows.forEach((r, i) => out.set(arr.subarray(r * m, r * m + m), i * m));
    return out;
  };
  return {
    ...d,
    queryIds: rows.map((r) => d.queryIds[r]!),
    queries: rows.map((r) => d.queries[r]!),
    quality: pick(d.quality),
    cost: pick(d.cost),
    latency: d.latency ? pick(d.latency) : undefined,
    groups: d.groups ? rows.map((r) => d.groups![r]!) : undefined,
  };
}
