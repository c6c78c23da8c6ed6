/**
 * The fine-tuned encoder router (RouteLLM's "BERT router", on the gateway's own all-MiniLM-L6-v2): the top
 * `trainLayers` transformer layers, mean pooling and a linear head are fine-tuned on the binary label "strong
 * model needed", the lower layers frozen (their output computed once per text). Training and scoring run in
 * torch in the project's Python environment (python/steps/encoder_router.py, one thread, deterministic); the
 * fine-tuned weights are the router state's tensors, so they live in `<name>.router.bin` like every kind's.
 * Binary only; reads the query texts (the embeddings are checked, not used).
 */
import { spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import type { Socket } from "node:net";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { writeFileAtomic } from "../util/atomic-write";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { RouterlabError } from "../util/errors";
import { parseWith } from "../util/zod-error";
import { projectRoot, venvPython } from "../util/paths";
import { parseFittedMeta, parseStateMeta, requireTensor, strongScores } from "./common";
import type { FittedMeta } from "./common";
import { defineRouter } from "./define";
import { predictFromBinary, TextScorer } from "./feature-score";
import type { Queries, Router, RouterScores, RouterState, RoutingTask } from "./types";

export const ENCODER_STEP = "python/steps/encoder_router.py";

export const EncoderHyper = z.strictObject({
  seed: z.int().nonnegative().default(0),
  /** Top transformer layers fine-tuned (MiniLM has 6); the rest stay frozen. */
  trainLayers: z.int().min(1).max(6).default(1),
  /** Tokens kept per text (the gateway embeds up to 256; 128 halves the attention cost). */
  maxLength: z.int().min(8).max(256).default(128),
  /** Seeded, label-stratified share of the training rows held out for early stopping. */
  validationFraction: z.number().min(0.05).max(0.5).default(0.15),
  /** `balanced` weights the positive (strong) class by negatives / positives in the loss. */
  classWeight: z.enum(["none", "balanced"]).default("none"),
  learningRate: z.number().positive().default(5e-5),
  headLearningRate: z.number().positive().default(1e-3),
  weightDecay: z.number().nonnegative().default(0.01),
  batchSize: z.int().positive().default(32),
  /** Most epochs; training stops after `patience` epochs without a lower validation loss. */
  epochs: z.int().positive().default(6),
  patience: z.int().positive().default(2),
});
export type EncoderHyper = z.infer<typeof EncoderHyper>;

const Source = z.object({ package: z.string(), version: z.string(), safetensorsSha256: z.string() });
const Epoch = z.object({
  epoch: z.int(),
  trainLoss: z.number(),
  validationLoss: z.number(),
  seconds: z.number(),
});

const FitReply = z.object({
  ok: z.literal(true),
  source: Source,
  names: z.array(z.tuple([z.string(), z.array(z.int().positive())])),
  bestEpoch: z.int(),
  bestValidationLoss: z.number(),
  trainRows: z.int(),
  validationRows: z.int(),
  history: z.array(Epoch),
  frozenSeconds: z.number(),
  totalSeconds: z.number(),
});
const ScoreReply = z.object({ ok: z.literal(true), rows: z.int(), totalSeconds: z.number() });
const FailReply = z.object({ ok: z.literal(false), error: z.string() });

const EncoderMeta = z.object({
  source: Source,
  bestEpoch: z.int(),
  bestValidationLoss: z.number(),
  trainRows: z.int(),
  validationRows: z.int(),
  history: z.array(Epoch),
});
type EncoderMeta = z.infer<typeof EncoderMeta>;

/**
 * The torch worker (one per Node process, started on first use): it imports torch and loads the encoder once,
 * then answers request files one at a time. It does not keep Node alive while idle.
 */
class TorchWorker {
  private child: ChildProcessWithoutNullStreams | undefined;
  private waiting: ((line: string | undefined) => void) | undefined;
  private stderr = "";
  private queue: Promise<unknown> = Promise.resolve();

  private start(): ChildProcessWithoutNullStreams {
    if (this.child && this.child.exitCode === null && !this.child.killed) return this.child;
    const script = path.join(projectRoot(), ENCODER_STEP);
    const child = spawn(venvPython(), [script], {
      env: { ...process.env, HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1", OMP_NUM_THREADS: "1" },
    });
    this.stderr = "";
    let partial = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf("\n")) >= 0) {
        this.deliver(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
    const gone = () => {
      if (this.child === child) this.child = undefined;
      const w = this.waiting;
      this.waiting = undefined;
      w?.(undefined);
    };
    child.on("exit", gone);
    child.on("error", (e) => {
      this.stderr += `\ncannot run ${venvPython()}: ${e.message}`;
      gone();
    });
    this.child = child;
    this.idle(child);
    return child;
  }

  private deliver(line: string): void {
    const w = this.waiting;
    if (w) {
      this.waiting = undefined;
      w(line);
    } else this.stderr += `\nunexpected worker output: ${line.slice(0, 200)}`;
  }

  private idle(child: ChildProcessWithoutNullStreams): void {
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as Socket).unref?.();
  }

  private busy(child: ChildProcessWithoutNullStreams): void {
    child.ref();
    for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as Socket).ref?.();
  }

  /** Sends one request file; resolves with the worker's answer line, or undefined if the worker died. */
  ask(requestFile: string): Promise<{ line: string | undefined; stderr: string }> {
    const run = async () => {
      const child = this.start();
      this.busy(child);
      try {
        const line = await new Promise<string | undefined>((resolve) => {
          this.waiting = resolve;
          child.stdin.write(requestFile + "\n");
        });
        return { line, stderr: this.stderr };
      } finally {
        this.idle(child);
      }
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

const worker = new TorchWorker();

/** Runs the torch step on `request` (written to a private temp folder) and parses its one-line JSON reply. */
async function runStep<T>(
  request: Record<string, unknown>,
  reply: z.ZodType<T>,
  files: (dir: string) => Record<string, string>,
  read: (dir: string, parsed: T) => void,
): Promise<T> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-encoder-"));
  const script = path.join(projectRoot(), ENCODER_STEP);
  try {
    const req = path.join(dir, "request.json");
    writeFileAtomic(req, JSON.stringify({ ...request, ...files(dir) }));
    const { line, stderr } = await worker.ask(req);
    let json: unknown;
    try {
      json = JSON.parse(line ?? "");
    } catch {
      throw new RouterlabError(`${ENCODER_STEP} failed: ${stderr.slice(-2000)}`, { file: script });
    }
    const failed = FailReply.safeParse(json);
    if (failed.success)
      throw new RouterlabError(`the encoder router's torch step refused: ${failed.data.error}`, {
        file: script,
      });
    const data = parseWith(reply, json, {
      file: script,
      jsonPath: "$",
      what: `unexpected reply from ${ENCODER_STEP}`,
    });
    read(dir, data);
    return data;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Fitted {
  meta: FittedMeta;
  encoder: EncoderMeta;
  /** In the step's order (the order the head reads them back). */
  names: string[];
  tensors: Record<string, { shape: number[]; data: Float32Array }>;
}

function floatCount(buf: Buffer, size: number): number {
  if (buf.length % size !== 0)
    throw new RouterlabError(`torch step output has ${buf.length} bytes, not whole floats`, {
      file: ENCODER_STEP,
    });
  return buf.length / size;
}

function readFloat32LE(buf: Buffer): Float32Array {
  const out = new Float32Array(floatCount(buf, 4));
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

function readFloat64LE(buf: Buffer): Float64Array {
  const out = new Float64Array(floatCount(buf, 8));
  for (let i = 0; i < out.length; i++) out[i] = buf.readDoubleLE(i * 8);
  return out;
}

function littleEndianBytes(tensors: readonly Float32Array[]): Buffer {
  const total = tensors.reduce((s, t) => s + t.length, 0);
  const buf = Buffer.alloc(total * 4);
  let at = 0;
  for (const t of tensors) for (const v of t) at = buf.writeFloatLE(v, at);
  return buf;
}

export class EncoderRouter extends TextScorer<EncoderHyper, Fitted> implements Router {
  constructor(hp: z.input<typeof EncoderHyper> = {}) {
    super("encoder", EncoderHyper, hp);
  }

  async fit(queries: Queries, task: RoutingTask): Promise<void> {
    this.checkFit(queries, task);
    let flat: Float32Array = new Float32Array(0);
    const reply = await runStep(
      {
        mode: "fit",
        texts: queries.texts,
        labels: Array.from(task.labels),
        hyperparameters: this.hp,
      },
      FitReply,
      (dir) => ({ out: path.join(dir, "tensors.bin") }),
      (dir) => (flat = readFloat32LE(readFileSync(path.join(dir, "tensors.bin")))),
    );
    const tensors: Fitted["tensors"] = {};
    let at = 0;
    for (const [name, shape] of reply.names) {
      const n = shape.reduce((a, b) => a * b, 1);
      tensors[name] = { shape, data: flat.slice(at, at + n) };
      at += n;
    }
    if (at !== flat.length)
      throw new RouterlabError(`torch step wrote ${flat.length} floats, its tensor list needs ${at}`);
    this.fitted = {
      meta: { setting: "binary", models: task.models.slice(), dim: queries.X.dim },
      encoder: {
        source: reply.source,
        bestEpoch: reply.bestEpoch,
        bestValidationLoss: reply.bestValidationLoss,
        trainRows: reply.trainRows,
        validationRows: reply.validationRows,
        history: reply.history,
      },
      names: reply.names.map(([n]) => n),
      tensors,
    };
  }

  async score(queries: Queries): Promise<RouterScores> {
    const f = this.fittedFor(queries);
    const n = queries.X.rows;
    if (n === 0)
      return { models: f.meta.models, perModel: new Float64Array(0), strongProbability: new Float64Array(0) };
    let p: Float64Array = new Float64Array(0);
    await runStep(
      {
        mode: "score",
        texts: queries.texts,
        hyperparameters: this.hp,
        source: f.encoder.source,
        names: f.names.map((name) => [name, f.tensors[name]!.shape]),
      },
      ScoreReply,
      (dir) => {
        const file = path.join(dir, "tensors.bin");
        writeFileAtomic(file, littleEndianBytes(f.names.map((name) => f.tensors[name]!.data)));
        return { tensors: file, out: path.join(dir, "p.bin") };
      },
      (dir) => (p = readFloat64LE(readFileSync(path.join(dir, "p.bin")))),
    );
    if (p.length !== n)
      throw new RouterlabError(`the torch step scored ${p.length} of ${n} queries`, { file: ENCODER_STEP });
    return strongScores(f.meta.models, p);
  }

  async predict(queries: Queries): Promise<string[]> {
    return predictFromBinary(await this.score(queries));
  }

  state(): RouterState {
    const f = this.need();
    return {
      kind: this.kind,
      hyperparameters: this.hyperparameters,
      meta: { ...f.meta, ...f.encoder, tensorOrder: f.names },
      tensors: f.tensors,
    };
  }

  static fromState(state: RouterState): EncoderRouter {
    const r = new EncoderRouter(EncoderHyper.parse(state.hyperparameters));
    const encoder = parseStateMeta(state, EncoderMeta);
    const { tensorOrder } = parseStateMeta(state, z.object({ tensorOrder: z.array(z.string()).min(1) }));
    const tensors: Fitted["tensors"] = {};
    for (const name of tensorOrder) tensors[name] = requireTensor(state, name);
    r.fitted = { meta: parseFittedMeta(state), encoder, names: tensorOrder, tensors };
    return r;
  }
}

export const encoderEntry = defineRouter({
  kind: "encoder",
  description:
    "fine-tuned MiniLM encoder (top layers + mean pooling + head) on P(strong needed), torch on CPU (binary, reads texts)",
  hyperparameters: EncoderHyper,
  seeded: true,
  readsTexts: true,
  settings: ["binary"],
  gatewayFormat: null,
  notServableReason:
    "the gateway embeds with the frozen encoder; a fine-tuned encoder would need the gateway to load a different " +
    "embedding model (gateway-contract.md §4: LLMROUTER_EMBEDDING_MODEL is to be left unset, the model is a " +
    "process-wide singleton serving every caller, and its output is L2-normalised before any router head)",
  create: (hp) => new EncoderRouter(hp),
  fromState: (s) => EncoderRouter.fromState(s),
});
