/**
 * TensorFlow.js set-up for the neural routers' training engine: the wasm backend (SIMD when the runtime has it),
 * `@tensorflow/tfjs-node` instead when it happens to be installed, the pure-JS cpu backend as a last resort (with a
 * warning). Inference never uses tfjs (see gateway.ts).
 */
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { env } from "../../util/env";

export { tf };

let ready: Promise<string> | undefined;

function wasmDir(): string {
  const pkg = require.resolve("@tensorflow/tfjs-backend-wasm/package.json");
  return path.join(path.dirname(pkg), "dist") + path.sep;
}

async function init(): Promise<string> {
  const wanted = env().ROUTERLAB_TF_BACKEND;
  if (wanted !== "wasm" && wanted !== "cpu") {
    try {
      // Optional: the native backend registers itself as "tensorflow" when installed.
      const native: string = "@tensorflow/tfjs-node";
      await import(native);
      if (await tf.setBackend("tensorflow")) return "tensorflow";
    } catch {
      // not installed: use wasm
    }
  }
  if (wanted !== "cpu") {
    try {
      setWasmPaths(wasmDir());
      if (await tf.setBackend("wasm")) {
        await tf.ready();
        return "wasm";
      }
    } catch (e) {
      process.emitWarning(
        `tfjs wasm backend unavailable (${(e as Error).message}); using the slow cpu backend`,
      );
    }
  }
  await tf.setBackend("cpu");
  await tf.ready();
  return "cpu";
}

/** Initialises tfjs once and returns the backend name ("wasm", "tensorflow" or "cpu"). */
export function tfReady(): Promise<string> {
  ready ??= init();
  return ready;
}

/**
 * What the two tfjs training engines share: the engine name, Adam with torch's defaults, the gradient step on the
 * trained variables, their snapshot and their disposal.
 */
export abstract class TfEngine {
  readonly name: string;
  private readonly optimizer: tf.Optimizer;

  protected constructor(backend: string, learningRate: number) {
    this.name = `tfjs-${backend}`;
    this.optimizer = tf.train.adam(learningRate, 0.9, 0.999, 1e-8);
  }

  /** The trained variables, in snapshot order. */
  protected abstract variables(): tf.Variable[];

  /** One Adam step on `lossOf`'s gradients; returns the loss. Call inside `tf.tidy`. */
  protected step(lossOf: () => tf.Scalar): tf.Scalar {
    const { value, grads } = tf.variableGrads(lossOf, this.variables());
    this.optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
    return value;
  }

  snapshot(): Float32Array[] {
    return this.variables().map((v) => Float32Array.from(v.dataSync()));
  }

  dispose(): void {
    this.variables().forEach((v) => v.dispose());
    this.optimizer.dispose();
  }
}
