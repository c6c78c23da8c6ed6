import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { filesUnder } from "../support/files";

/** What python/peers/mlflow_readback.py prints: the run as MLflow's own Python client sees it. */
export const ReadbackSchema = z.object({
  search: z.record(z.string(), z.string().nullable()),
  status: z.string(),
  params: z.record(z.string(), z.string()),
  tags: z.record(z.string(), z.string()),
  history: z.record(
    z.string(),
    z.array(z.tuple([z.number(), z.number(), z.union([z.number(), z.string()])])),
  ),
  artifacts: z.record(z.string(), z.string()),
  artifact_list: z.array(z.string()),
  inputs: z.array(z.object({ name: z.string(), digest: z.string(), context: z.string().nullable() })),
  model_version: z
    .object({ name: z.string(), version: z.string(), source: z.string(), run_id: z.string() })
    .nullable(),
});
export type Readback = z.infer<typeof ReadbackSchema>;

export function pythonReadback(
  python: string,
  req: {
    tracking_uri: string;
    run_id: string;
    experiment_id: string;
    metric_keys?: string[];
    artifacts?: string[];
    model?: { name: string; alias: string } | null;
    dst_dir: string;
  },
): Readback {
  const script = path.join(__dirname, "..", "..", "..", "python", "peers", "mlflow_readback.py");
  const r = spawnSync(python, [script], {
    input: JSON.stringify(req),
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, MLFLOW_DISABLE_TELEMETRY: "true", TQDM_DISABLE: "1" },
  });
  if (r.status !== 0) throw new Error(`mlflow_readback.py failed (${r.status}): ${r.stderr.slice(-3000)}`);
  return ReadbackSchema.parse(JSON.parse(r.stdout));
}

/** Files under `dir` whose bytes contain any of `secrets` (returned as "file: secret#i"). */
export function filesContaining(dir: string, secrets: readonly string[]): string[] {
  const hits: string[] = [];
  for (const f of filesUnder(dir)) {
    const text = readFileSync(f).toString("latin1");
    secrets.forEach((s, i) => {
      if (text.includes(s)) hits.push(`${f}: secret#${i}`);
    });
  }
  return hits;
}
