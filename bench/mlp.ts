/**
 * MLP training speed: routerlab (default engine: each step's forward and backward one onnxruntime graph run, Adam in
 * TypeScript) vs PyTorch CPU in the project's venv at its best thread count (bench/protocol.ts), same architecture
 * (384 -> [128, 64] -> 5, ReLU), Adam lr 1e-3, batch 64, 20 epochs, 15,000 rows. The data are synthetic (seeded
 * Gaussian rows, uniform labels): the figure is wall time, which does not depend on the values. No validation split
 * or early stopping on either side, so both run exactly 20 x 235 steps. routerlab's step graph runs on one
 * onnxruntime thread (nn/mlp-ort.ts has no thread knob), so its side has one configuration.
 */
import { MlpRouter } from "../lib/routers/mlp";
import { torchTrain } from "../tests/peers/torch-peer";
import { createRng } from "../lib/util/random";
import { compare, threadCounts, threadLabel, timeResult, withThreadEnv } from "./protocol";
import type { BenchArea, BenchResult } from "./types";

const ROWS = 15_000;
const DIM = 384;
const CLASSES = 5;
const EPOCHS = 20;
const BATCH = 64;

export const mlpBench: BenchArea = {
  prefix: "mlp.",
  async run(): Promise<BenchResult[]> {
    const rng = createRng(1);
    const data = new Float32Array(ROWS * DIM);
    for (let i = 0; i < data.length; i++) data[i] = rng.normal();
    const labels = Int32Array.from({ length: ROWS }, () => rng.int(CLASSES));
    const models = Array.from({ length: CLASSES }, (_, i) => `model-${i}`);
    let engine = "";
    const ours = async (): Promise<number> => {
      const router = new MlpRouter({
        hiddenLayerSizes: [128, 64],
        epochs: EPOCHS,
        batchSize: BATCH,
        learningRate: 1e-3,
        validationFraction: 0,
        patience: 0,
        seed: 1,
      });
      const started = performance.now();
      await router.fit({ X: { data, rows: ROWS, dim: DIM } }, { kind: "multi", models, labels });
      engine = String(router.state().meta.backend);
      return (performance.now() - started) / 1000;
    };
    let torchVersion = "";
    const peer =
      (threads: number) =>
      async (budgetSeconds?: number): Promise<number> => {
        const r = await withThreadEnv(threads, () =>
          torchTrain("train-mlp", {
            seed: 1,
            rows: ROWS,
            dim: DIM,
            num_classes: CLASSES,
            hidden_layer_sizes: [128, 64],
            activation: "relu",
            learning_rate: 1e-3,
            batch_size: BATCH,
            epochs: EPOCHS,
            threads,
            ...(budgetSeconds === undefined ? {} : { max_seconds: budgetSeconds }),
          }),
        );
        torchVersion = r.torch;
        return r.complete ? r.seconds : Infinity;
      };
    const c = await compare(
      { name: "routerlab MLP trainer", configs: [{ label: "1 onnxruntime thread", run: ours }] },
      {
        name: "PyTorch CPU",
        configs: threadCounts().map((n) => ({ label: threadLabel(n), run: peer(n) })),
      },
    );
    c.ours.name = `routerlab ${engine} engine`;
    c.peer.name = `PyTorch ${torchVersion}`;
    return [
      timeResult("mlp.train_20ep_seconds", c, { factor: 1, text: "<= PyTorch CPU at its best thread count" }),
    ];
  },
};
