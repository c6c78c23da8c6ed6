/**
 * Chooses the IRT router's `weightDecay` without the test queries: 5-fold cross-validation on LLMRouter's training
 * split only (`crossValidateMulti`, held-out AIQ with the main job's λ grid and seed), over a small grid. Prints the
 * per-fold and mean AIQ of every candidate and the Zero router's; docs/routers.md records the figures and
 * lib/routers/irt.ts's default is the pick. Run alone: `node dist/bench/irt-cv.js` (about 20 IRT fits).
 */
import { bundledRouting } from "../lib/data/bundled";
import { defaultMainJobConfig } from "../lib/pipeline/config";
import { embedAll } from "../lib/pipeline/main-job";
import type { MultiCvResult } from "../lib/pipeline/multi-cv";
import { crossValidateMulti } from "../lib/pipeline/multi-cv";

export const IRT_WEIGHT_DECAY_GRID = [1e-4, 3e-4, 1e-3, 3e-3] as const;

export async function irtWeightDecayCv(folds = 5): Promise<MultiCvResult> {
  const config = defaultMainJobConfig();
  const train = bundledRouting("llmrouter-train").data;
  const e = await embedAll([train], config.embedding.precision);
  return crossValidateMulti({
    data: train,
    X: e.matrices.get(train)!,
    candidates: IRT_WEIGHT_DECAY_GRID.map((weightDecay) => ({
      name: `irt wd=${weightDecay}`,
      kind: "irt",
      hyperparameters: { weightDecay },
    })),
    folds,
    lambdas: config.multi.lambdas,
    embeddingSpec: e.spec,
    seed: config.seed,
    onFold: (f, a) =>
      console.error(
        `[irt-cv] fold ${f}: zero ${a.zero.toFixed(4)}, ${a.candidates.map((x) => x.toFixed(4)).join(" ")}`,
      ),
  });
}

if (require.main === module)
  irtWeightDecayCv()
    .then((r) => console.log(JSON.stringify(r, null, 2)))
    .catch((e: unknown) => {
      console.error(e);
      process.exit(1);
    });
