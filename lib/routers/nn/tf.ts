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
