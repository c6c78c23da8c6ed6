/**
 * MLP training speed: routerlab (tfjs, wasm backend) vs PyTorch CPU in the project's venv, same run, same
 * architecture (384 -> [128, 64] -> 5, ReLU), Adam lr 1e-3, batch 64, 20 epochs, 15,000 rows. The data are synthetic
 * (seeded Gaussian rows, uniform labels): the figure is wall time, which does not depend on the values. No
 * validation split or early stopping on either side, so both run exactly 20 x 235 steps.
 */
import { MlpRouter } from "../lib/routers/mlp";
import { torchTrain } from "../tests/peers/torch-peer";
import { tfReady } from "../lib/routers/nn/tf";
import { createRng } from "../lib/util/random";
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
    const backend = await tfReady();
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
    const ours = (performance.now() - started) / 1000;
    const peer = torchTrain("train-mlp", {
      seed: 1,
      rows: ROWS,
      dim: DIM,
      num_classes: CLASSES,
      hidden_layer_sizes: [128, 64],
      activation: "relu",
      learning_rate: 1e-3,
      batch_size: BATCH,
      epochs: EPOCHS,
    });
    return [
      {
        name: "mlp.train_20ep_seconds",
        value: ours,
        unit: "s",
        peer: `pytorch cpu (${peer.threads} threads); routerlab tfjs-${backend}`,
        peerValue: peer.seconds,
        ratio: peer.seconds / ours,
        goal: "<= PyTorch CPU",
        met: ours <= peer.seconds,
      },
    ];
  },
};
