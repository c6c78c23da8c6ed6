/**
 * MF training speed: routerlab (default engine: TypeScript backward + Adam, products on onnxruntime) vs PyTorch CPU in the project's venv, same run, RouteLLM defaults
 * (latent 128, Adam lr 3e-4, weight decay 1e-5, noise 0.1, batch 64), 384-d embeddings, 5 models, 50,000
 * (winner, loser) pairs, 10 epochs. Synthetic data (seeded Gaussian embeddings of 12,500 queries with 4 pairs each;
 * PyTorch gets random pairs of the same count): the figure is wall time.
 */
import { MfRouter } from "../lib/routers/mf";
import { torchTrain } from "../tests/peers/torch-peer";
import { createRng } from "../lib/util/random";
import type { BenchArea, BenchResult } from "./types";

const DIM = 384;
const MODELS = 5;
const PAIRS = 50_000;
const EPOCHS = 10;

export const mfBench: BenchArea = {
  prefix: "mf.",
  async run(): Promise<BenchResult[]> {
    // 12,500 queries x 4 pairs each (one winner with quality 1 against the 4 other models at 0) = 50,000 pairs.
    const nq = PAIRS / (MODELS - 1);
    const rng = createRng(2);
    const data = new Float32Array(nq * DIM);
    for (let i = 0; i < data.length; i++) data[i] = rng.normal();
    const quality = new Float64Array(nq * MODELS);
    const labels = new Int32Array(nq);
    for (let q = 0; q < nq; q++) {
      labels[q] = rng.int(MODELS);
      quality[q * MODELS + labels[q]!] = 1;
    }
    const models = Array.from({ length: MODELS }, (_, i) => `model-${i}`);
    const router = new MfRouter({ epochs: EPOCHS, validationFraction: 0, seed: 2 });
    const started = performance.now();
    await router.fit({ X: { data, rows: nq, dim: DIM } }, { kind: "multi", models, labels, quality });
    const ours = (performance.now() - started) / 1000;
    const peer = torchTrain("train-mf", {
      seed: 2,
      queries: nq,
      dim: DIM,
      num_models: MODELS,
      pairs: PAIRS,
      latent_dim: 128,
      learning_rate: 3e-4,
      weight_decay: 1e-5,
      noise: 0.1,
      batch_size: 64,
      epochs: EPOCHS,
    });
    return [
      {
        name: "mf.train_10ep_seconds",
        value: ours,
        unit: "s",
        peer: `pytorch cpu (${peer.threads} threads); routerlab engine ${String(router.state().meta.backend)}`,
        peerValue: peer.seconds,
        ratio: peer.seconds / ours,
        goal: "<= PyTorch CPU",
        met: ours <= peer.seconds,
      },
    ];
  },
};
