import pl from "nodejs-polars";
import type { RoutingData } from "./routing";

/**
 * RoutingData as a long-format polars DataFrame: one row per (query, model) with columns
 * query_idx, query_id, query, group, model, quality, cost, latency (NaN = not observed).
 */
export function routingFrame(d: RoutingData): pl.DataFrame {
  const n = d.queryIds.length;
  const m = d.models.length;
  const size = n * m;
  const queryIdx = new Array<number>(size);
  const queryId = new Array<string>(size);
  const query = new Array<string>(size);
  const group = new Array<string>(size);
  const model = new Array<string>(size);
  for (let q = 0; q < n; q++) {
    for (let j = 0; j < m; j++) {
      const k = q * m + j;
      queryIdx[k] = q;
      queryId[k] = d.queryIds[q]!;
      query[k] = d.queries[q]!;
      group[k] = d.groups?.[q] ?? "";
      model[k] = d.models[j]!;
    }
  }
  return pl.DataFrame({
    query_idx: queryIdx,
    query_id: queryId,
    query,
    group,
    model,
    quality: Float64Array.from(d.quality),
    cost: Float64Array.from(d.cost),
    latency: d.latency ? Float64Array.from(d.latency) : new Float64Array(size).fill(NaN),
  });
}

/**
 * Back from the long format (any row order; missing (query, model) pairs become NaN). Queries keep
 * their first-appearance order, models too unless `models` is given.
 */
export function fromFrame(
  df: pl.DataFrame,
  opts: { name: string; models?: readonly string[]; qualityScale?: { min: number; max: number } },
): RoutingData {
  const ids = df.getColumn("query_id").toArray() as string[];
  const texts = df.getColumn("query").toArray() as string[];
  const mods = df.getColumn("model").toArray() as string[];
  const qual = df.getColumn("quality").toArray() as number[];
  const cost = df.getColumn("cost").toArray() as number[];
  const lat = df.columns.includes("latency")
    ? (df.getColumn("latency").toArray() as (number | null)[])
    : null;
  const grp = df.columns.includes("group") ? (df.getColumn("group").toArray() as (string | null)[]) : null;
  const qIndex = new Map<string, number>();
  const queryIds: string[] = [];
  const queries: string[] = [];
  const groups: string[] = [];
  ids.forEach((id, i) => {
    if (!qIndex.has(id)) {
      qIndex.set(id, queryIds.length);
      queryIds.push(id);
      queries.push(texts[i]!);
      groups.push(grp?.[i] ?? "");
    }
  });
  const models = opts.models ? [...opts.models] : [...new Set(mods)];
  const mIndex = new Map(models.map((m, i) => [m, i]));
  const size = queryIds.length * models.length;
  const quality = new Float64Array(size).fill(NaN);
  const costs = new Float64Array(size).fill(NaN);
  const latency = new Float64Array(size).fill(NaN);
  ids.forEach((id, i) => {
    const j = mIndex.get(mods[i]!);
    if (j === undefined) return;
    const k = qIndex.get(id)! * models.length + j;
    quality[k] = qual[i] ?? NaN;
    costs[k] = cost[i] ?? NaN;
    latency[k] = lat?.[i] ?? NaN;
  });
  const anyLatency = latency.some((x) => !Number.isNaN(x));
  const anyGroup = groups.some((g) => g !== "");
  return {
    name: opts.name,
    queryIds,
    queries,
    models,
    quality,
    cost: costs,
    latency: anyLatency ? latency : undefined,
    groups: anyGroup ? groups : undefined,
    qualityScale: opts.qualityScale,
  };
}

/** Per-model mean quality / mean cost / observed count, via polars. */
export function perModelSummary(
  d: RoutingData,
): { model: string; meanQuality: number; meanCost: number; totalCost: number; n: number }[] {
  const df = routingFrame(d)
    .filter(pl.col("quality").isNotNan())
    .groupBy("model")
    .agg(
      pl.col("quality").mean().alias("mean_quality"),
      pl.col("cost").mean().alias("mean_cost"),
      pl.col("cost").sum().alias("total_cost"),
      pl.col("quality").count().alias("n"),
    );
  const rows = df.toRecords() as {
    model: string;
    mean_quality: number;
    mean_cost: number;
    total_cost: number;
    n: number;
  }[];
  const byModel = new Map(rows.map((r) => [r.model, r]));
  return d.models.map((m) => {
    const r = byModel.get(m);
    return {
      model: m,
      meanQuality: r?.mean_quality ?? NaN,
      meanCost: r?.mean_cost ?? NaN,
      totalCost: r?.total_cost ?? NaN,
      n: Number(r?.n ?? 0),
    };
  });
}
