/**
 * Runs python/peers/torch_peer.py in the project's venv: the PyTorch reference used by the parity tests and the benchmarks.
 * Tensors go out as raw float32 files plus a JSON spec; the answer comes back as JSON and is checked with zod.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import type { EmbeddingMatrix } from "../../lib/embed/types";
import { RouterlabError } from "../../lib/util/errors";
import { projectRoot, venvPython } from "../../lib/util/paths";
import type { RouterState } from "../../lib/routers/types";

const ForwardSchema = z.object({
  values: z.array(z.array(z.number())),
  argmax: z.array(z.int()),
  torch: z.string(),
});
export type TorchForward = z.infer<typeof ForwardSchema>;

const TrainSchema = z.object({ seconds: z.number(), final_loss: z.number(), threads: z.int() });
export type TorchTrain = z.infer<typeof TrainSchema>;

function runPeer<S extends z.ZodType>(
  mode: string,
  spec: Record<string, unknown>,
  dir: string,
  schema: S,
): z.infer<S> {
  const specFile = path.join(dir, "spec.json");
  writeFileSync(specFile, JSON.stringify(spec));
  const script = path.join(projectRoot(), "python", "peers", "torch_peer.py");
  let out: string;
  try {
    out = execFileSync(venvPython(), [script, mode, specFile], { encoding: "utf8", maxBuffer: 1 << 28 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new RouterlabError(`torch peer ${mode} failed: ${err.stderr ?? err.message}`, { file: script });
  }
  const parsed = schema.safeParse(JSON.parse(out));
  if (!parsed.success)
    throw new RouterlabError(`unexpected torch peer output: ${parsed.error.issues[0]!.message}`, {
      file: script,
      path: parsed.error.issues[0]!.path.join("."),
    });
  return parsed.data;
}

function writeF32(dir: string, name: string, data: Float32Array): string {
  const file = path.join(dir, name.replace(/[^A-Za-z0-9_.-]/g, "_") + ".f32");
  writeFileSync(file, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  return file;
}

function forwardSpec(
  dir: string,
  tag: string,
  state: RouterState,
  probes: EmbeddingMatrix,
): Record<string, unknown> {
  const tensors = Object.fromEntries(
    Object.entries(state.tensors).map(([k, t]) => [
      k,
      { shape: t.shape, file: writeF32(dir, `${tag}-${k}`, t.data) },
    ]),
  );
  const spec: Record<string, unknown> = {
    kind: state.kind,
    tensors,
    probes: { file: writeF32(dir, `${tag}-probes`, probes.data), rows: probes.rows, dim: probes.dim },
  };
  const meta = state.meta;
  if (state.kind === "mlp") {
    Object.assign(spec, {
      input_dim: meta.input_dim,
      hidden_layer_sizes: meta.hidden_layer_sizes,
      num_classes: meta.num_classes,
      activation: meta.activation,
    });
  } else {
    Object.assign(spec, {
      num_models: meta.num_models,
      latent_dim: meta.latent_dim,
      text_dim: meta.text_dim,
    });
  }
  return spec;
}

/** Loads `state.tensors` into the contract's torch module (strict load_state_dict) and runs forward on `probes`. */
export function torchForward(state: RouterState, probes: EmbeddingMatrix): TorchForward {
  return torchForwardMany([{ state, probes }])[0]!;
}

/** `torchForward` for several models with one Python start (importing torch takes seconds). */
export function torchForwardMany(
  items: readonly { state: RouterState; probes: EmbeddingMatrix }[],
): TorchForward[] {
  const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-torch-"));
  try {
    const specs = items.map((it, i) => forwardSpec(dir, String(i), it.state, it.probes));
    return runPeer("forward-many", { items: specs }, dir, z.object({ items: z.array(ForwardSchema) })).items;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Times PyTorch training of the same MLP or MF on synthetic data described by `spec` (see torch_peer.py). */
export function torchTrain(mode: "train-mlp" | "train-mf", spec: Record<string, unknown>): TorchTrain {
  const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-torch-"));
  try {
    return runPeer(mode, spec, dir, TrainSchema);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `steps` full-batch Adam steps of the MF pair loss in torch from `state`'s weights, on pairs over the rows of `X`:
 * the reference for routerlab's MF training maths (weight decay, row normalisation, BCE). Returns the new tensors.
 */
export function torchMfSteps(
  state: RouterState,
  X: EmbeddingMatrix,
  pairs: { q: Int32Array; win: Int32Array; lose: Int32Array; target: Float32Array },
  opts: { steps: number; learningRate: number; weightDecay: number },
): Record<string, number[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-torch-"));
  try {
    const spec = {
      ...forwardSpec(dir, "0", state, X),
      q: Array.from(pairs.q),
      win: Array.from(pairs.win),
      lose: Array.from(pairs.lose),
      target: Array.from(pairs.target),
      steps: opts.steps,
      learning_rate: opts.learningRate,
      weight_decay: opts.weightDecay,
    };
    return runPeer("steps-mf", spec, dir, z.record(z.string(), z.array(z.number())));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `steps` full-batch Adam steps of class-weighted cross-entropy in torch from `state`'s MLP weights on (X, y). */
export function torchMlpSteps(
  state: RouterState,
  X: EmbeddingMatrix,
  y: Int32Array,
  opts: { steps: number; learningRate: number; classWeight: readonly number[] },
): Record<string, number[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-torch-"));
  try {
    const spec = {
      ...forwardSpec(dir, "0", state, X),
      y: Array.from(y),
      steps: opts.steps,
      learning_rate: opts.learningRate,
      class_weight: opts.classWeight,
    };
    return runPeer("steps-mlp", spec, dir, z.record(z.string(), z.array(z.number())));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
