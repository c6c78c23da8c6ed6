/**
 * The fine-tuned encoder router (issue 14 item 4) against the frozen-embedding routers (KNN k=40, the main job's
 * MLP) on MMLU and GSM8K: the same seeded split and training sample for all three (bench/encoder-compare.ts,
 * `routerlab train`'s workflow), APGR and CPT(50%) on the test rows. Figures: the encoder's training seconds
 * (torch, one thread; informational) and its APGR and CPT(50%) gain over the better frozen router (goal > 0).
 * Both datasets train on a 400-row sample (MMLU tests on 300 rows, GSM8K on its whole 20% test split) with the
 * encoder at maxLength 64, at most 3 epochs, patience 1: about 3 CPU minutes per dataset, so the area fits the
 * bench's time budget on 2 shared cores. ROUTERLAB_BENCH_ENCODER_TRAIN / _TEST set other sizes. Not a timing
 * figure of the protocol (no peer): run it alone with `node dist/bench/encoder.js` (`npm run bench -- eval.`
 * also runs the eval. area, which includes the main job).
 */
import { compareEncoder } from "./encoder-compare";
import type { EncoderComparison } from "./encoder-compare";
import type { BenchArea, BenchResult } from "./types";

/** The bench's encoder settings (see the module comment). */
export const BENCH_ENCODER_HYPERPARAMETERS = { maxLength: 64, epochs: 3, patience: 1 };

function sizes(dataset: "mmlu" | "gsm8k"): { maxTrain?: number; maxTest?: number } {
  const maxTest = process.env.ROUTERLAB_BENCH_ENCODER_TEST ?? (dataset === "mmlu" ? "300" : undefined);
  return {
    maxTrain: Number(process.env.ROUTERLAB_BENCH_ENCODER_TRAIN ?? 400),
    ...(maxTest === undefined ? {} : { maxTest: Number(maxTest) }),
  };
}

function figures(c: EncoderComparison): BenchResult[] {
  const encoder = c.rows.find((r) => r.kind === "encoder")!;
  const frozen = c.rows.filter((r) => r.kind !== "encoder");
  const bestApgr = frozen.reduce((a, b) => ((b.summary.apgr ?? -1) > (a.summary.apgr ?? -1) ? b : a));
  const bestCpt = frozen.reduce((a, b) =>
    (b.summary.cpt50.value ?? 2) < (a.summary.cpt50.value ?? 2) ? b : a,
  );
  const split = `${c.trainRows} train / ${c.testRows} test rows, seed ${c.seed}`;
  return [
    {
      name: `eval.encoder_${c.dataset}_train_seconds`,
      value: encoder.fitSeconds,
      unit: "s",
      peer: null,
      peerValue: null,
      ratio: null,
      goal: `informational: fine-tune on ${split}, torch 1 thread`,
      met: null,
    },
    {
      name: `eval.encoder_${c.dataset}_apgr_gain`,
      value: c.apgrGain ?? NaN,
      unit: "APGR",
      peer: `${bestApgr.router} (frozen embeddings) APGR ${bestApgr.summary.apgr?.toFixed(3)}`,
      peerValue: bestApgr.summary.apgr,
      ratio: null,
      goal: `> 0 over the better of KNN/MLP (${split})`,
      met: c.apgrGain !== null && c.apgrGain > 0,
    },
    {
      name: `eval.encoder_${c.dataset}_cpt50_gain`,
      value: c.cpt50Gain ?? NaN,
      unit: "share of strong calls",
      peer: `${bestCpt.router} (frozen embeddings) CPT(50%) ${bestCpt.summary.cpt50.value?.toFixed(3)}`,
      peerValue: bestCpt.summary.cpt50.value,
      ratio: null,
      goal: `> 0: fewer strong calls than the better of KNN/MLP (${split})`,
      met: c.cpt50Gain !== null && c.cpt50Gain > 0,
    },
  ];
}

export const encoderBench: BenchArea = {
  prefix: "eval.encoder_",
  async run(): Promise<BenchResult[]> {
    const out: BenchResult[] = [];
    for (const dataset of ["gsm8k", "mmlu"] as const) {
      const c = await compareEncoder({
        dataset,
        ...sizes(dataset),
        encoderHyperparameters: BENCH_ENCODER_HYPERPARAMETERS,
        log: (l) => console.error(`[bench] ${l}`),
      });
      out.push(...figures(c));
    }
    return out;
  },
};

if (require.main === module)
  encoderBench
    .run()
    .then((r) => console.log(JSON.stringify(r, null, 2)))
    .catch((e: unknown) => {
      console.error(e);
      process.exit(1);
    });
