import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import type { EmbeddingMatrix } from "../embed/types";
import { RouterlabError } from "../util/errors";
import { cacheDir, projectRoot } from "../util/paths";
import { writeProbes } from "./gateway-check";
import { runPythonStep } from "./python-step";
import { env } from "../util/env";

/**
 * The pinned KNN/SVM export step (gateway-contract.md §6.1). Pickles hold private, version-specific estimator state,
 * so scikit-learn itself writes them, in its own virtual environment with the gateway's locked versions, provisioned
 * on first use under `.cache/export-venv-sklearn-<v>-numpy-<v>/`. MLP/MF/ELO exports never come here.
 */

export interface SklearnVersions {
  sklearn: string;
  numpy: string;
  scipy: string;
  joblib: string;
}

/** The gateway's lock (§2). Override per gateway build with `routerlab export --sklearn-version ...`. */
export const GATEWAY_SKLEARN_VERSIONS: SklearnVersions = {
  sklearn: "1.8.0",
  numpy: "2.4.1",
  scipy: "1.17.0",
  joblib: "1.5.3",
};

const Version = z.string().regex(/^\d+(\.\d+){1,2}$/, "a version such as 1.8.0");
export const SklearnVersionsSchema = z.object({
  sklearn: Version,
  numpy: Version,
  scipy: Version,
  joblib: Version,
});

export const KnnHyperparametersSchema = z
  .object({
    n_neighbors: z.number().int().positive().default(5),
    metric: z.string().default("cosine"),
    weights: z.enum(["uniform", "distance"]).default("distance"),
    algorithm: z.enum(["auto", "brute", "ball_tree", "kd_tree"]).default("brute"),
  })
  .strict();
export const SvmHyperparametersSchema = z
  .object({
    C: z.number().positive().default(1),
    kernel: z.enum(["linear", "poly", "rbf", "sigmoid"]).default("rbf"),
    gamma: z.union([z.enum(["scale", "auto"]), z.number().positive()]).default("scale"),
    degree: z.number().int().positive().optional(),
    coef0: z.number().optional(),
    random_state: z.number().int().optional(),
  })
  .strict();

/**
 * The estimators python/steps/export_sklearn.py fits: each one's hyperparameter schema, and whether routerlab's label
 * order must be kept as the pickle's classes_ (KNN breaks vote ties by the first label; an SVC's classes are sorted).
 */
const ESTIMATORS = {
  knn: { hyperparameters: KnnHyperparametersSchema, keepsClassOrder: true },
  svm: { hyperparameters: SvmHyperparametersSchema, keepsClassOrder: false },
} as const;
export type SklearnEstimator = keyof typeof ESTIMATORS;

const StepResult = z.object({
  ok: z.boolean(),
  error: z.string().optional(),
  sha256: z.string().optional(),
  classes: z.array(z.string()).optional(),
  mismatches: z.number().optional(),
  first: z.object({ index: z.number(), routerlab: z.string(), sklearn: z.string() }).optional(),
  versions: z.record(z.string(), z.string()).optional(),
  timings: z.record(z.string(), z.number()).optional(),
});
export type SklearnStepResult = z.infer<typeof StepResult>;

export function exportVenvDir(v: SklearnVersions): string {
  return path.join(cacheDir(), `export-venv-sklearn-${v.sklearn}-numpy-${v.numpy}`);
}

function requirementsText(v: SklearnVersions): string {
  const base = readFileSync(path.join(projectRoot(), "python", "export-requirements.txt"), "utf8");
  const pins: Record<string, string> = {
    "scikit-learn": v.sklearn,
    numpy: v.numpy,
    scipy: v.scipy,
    joblib: v.joblib,
  };
  return base.replace(/^([A-Za-z0-9_.-]+)==(\S+)$/gm, (line, name: string) =>
    pins[name] ? `${name}==${pins[name]}` : line,
  );
}

const PY_TOO_OLD = (v: string) => `Python ${v} is too old for numpy 2.4 / scikit-learn 1.8 (3.11+ needed)`;

/** `python -c` probe: its "major.minor" and whether it has `venv`, or why it cannot run. */
function probePython(python: string): { version: string } | { error: string } {
  const p = spawnSync(python, ["-c", "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])"], {
    encoding: "utf8",
  });
  if (p.error)
    return {
      error: `'${python}' cannot be run (${(p.error as NodeJS.ErrnoException).code ?? p.error.message})`,
    };
  if (p.status !== 0)
    return { error: `'${python}' has no venv/ensurepip module: ${p.stderr.trim().split("\n").pop()}` };
  const version = p.stdout.trim();
  const [maj, min] = version.split(".").map(Number);
  if (maj! < 3 || (maj === 3 && min! < 11)) return { error: PY_TOO_OLD(version) };
  return { version };
}

/** The pinned versions installed in an interpreter, or undefined when it cannot report them. */
function installedVersions(python: string): Record<string, string> | undefined {
  const p = spawnSync(
    python,
    [
      "-c",
      "import json, numpy, sklearn; print(json.dumps({'scikit-learn': sklearn.__version__, 'numpy': numpy.__version__}))",
    ],
    { encoding: "utf8" },
  );
  if (p.error || p.status !== 0) return undefined;
  const r = z.record(z.string(), z.string()).safeParse(JSON.parse(p.stdout.trim()));
  return r.success ? r.data : undefined;
}

/**
 * The interpreter for the step. `ROUTERLAB_EXPORT_PYTHON` names one directly (it must already have the pinned
 * versions, which the step checks); otherwise a venv with the pinned versions is provisioned from PyPI on first use,
 * from `python3` (or `ROUTERLAB_EXPORT_BASE_PYTHON`), under `.cache/` (or `root`). It is built in a temporary folder
 * and renamed into place, so a failed or concurrent provisioning never leaves a half-built environment in use.
 */
export function ensureExportPython(
  v: SklearnVersions = GATEWAY_SKLEARN_VERSIONS,
  log = (_: string) => {},
  root?: string,
): string {
  const direct = env().ROUTERLAB_EXPORT_PYTHON;
  if (direct) return direct;
  const dir = root ? path.join(root, path.basename(exportVenvDir(v))) : exportVenvDir(v);
  const py = path.join(dir, "bin", "python");
  const stamp = path.join(dir, "routerlab-requirements.txt");
  const req = requirementsText(v);
  const want = { "scikit-learn": v.sklearn, numpy: v.numpy };
  // The stamp is written only after a complete install; the step itself re-checks the versions on every run.
  const ready = () => existsSync(py) && existsSync(stamp) && readFileSync(stamp, "utf8") === req;
  if (ready()) return py;
  const base = env().ROUTERLAB_EXPORT_BASE_PYTHON ?? "python3";
  const probe = probePython(base);
  if ("error" in probe) {
    throw new RouterlabError(
      `KNN and SVM exports need Python 3.11+ with venv and pip to build scikit-learn ${v.sklearn} / numpy ${v.numpy} pickles: ${probe.error}`,
      undefined,
      "install python3 (3.11 or newer; 3.14 matches the gateway image) with python3-venv and python3-pip (e.g. `apt-get install python3 python3-venv python3-pip`), " +
        "or set ROUTERLAB_EXPORT_BASE_PYTHON to such an interpreter, or ROUTERLAB_EXPORT_PYTHON to one that already has these exact versions. MLP, MF and ELO exports do not need Python.",
    );
  }
  log(
    `provisioning the export environment ${dir} from PyPI (Python ${probe.version}, scikit-learn ${v.sklearn}, numpy ${v.numpy}); once per version set`,
  );
  mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  try {
    const mk = spawnSync(base, ["-m", "venv", tmp], { encoding: "utf8" });
    if (mk.status !== 0)
      throw new RouterlabError(`cannot create a venv with ${base}: ${mk.stderr.trim()}`, { file: tmp });
    // the venv is built in a temporary sibling folder and renamed into place whole (a folder swap), so plain writes
    // inside it are never seen half-done
    const reqFile = path.join(tmp, "requirements.in");
    writeFileSync(reqFile, req);
    const pip = spawnSync(
      path.join(tmp, "bin", "python"),
      [
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--only-binary=:all:",
        "-r",
        reqFile,
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    if (pip.status !== 0) {
      throw new RouterlabError(
        `cannot install the pinned export requirements (scikit-learn ${v.sklearn}, numpy ${v.numpy}) from PyPI: ${pip.stderr.trim().slice(-1500)}`,
        { file: reqFile },
        "check network access to PyPI (or PIP_INDEX_URL), and that these versions have wheels for this Python and platform",
      );
    }
    writeFileSync(path.join(tmp, "routerlab-requirements.txt"), req);
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(tmp, dir);
    } catch (e) {
      // Another process finished first: use its environment if it is complete.
      if (!ready()) throw e;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const have = installedVersions(py);
  if (have?.["scikit-learn"] !== want["scikit-learn"] || have?.numpy !== want.numpy)
    throw new RouterlabError(
      `the provisioned export environment has scikit-learn ${have?.["scikit-learn"]} / numpy ${have?.numpy}, not ${v.sklearn} / ${v.numpy}`,
      { file: dir },
    );
  return py;
}

export interface SklearnExportRequest {
  kind: SklearnEstimator;
  train: EmbeddingMatrix;
  labels: readonly string[];
  hyperparameters: Record<string, unknown>;
  /** routerlab's evaluation embeddings and its decisions on them: the pickle must reproduce every one. */
  probes: EmbeddingMatrix;
  expected: readonly string[];
  /** Where the .pkl goes; written only if every decision agrees. */
  out: string;
  versions?: SklearnVersions;
  /**
   * KNN: routerlab's label order, which decides vote ties (first label wins); the pickle's classes_ are put in this
   * order (scikit-learn would sort them and break ties alphabetically). Labels absent from training are skipped.
   */
  classOrder?: readonly string[];
  /**
   * How many probes are also predicted one row at a time, the gateway's exact call (default 100; after the first 5
   * the step stops once 5 s are spent, since each row is a full pass over a KNN's stored points).
   */
  rowChecks?: number;
  log?: (msg: string) => void;
}

export function runSklearnExport(r: SklearnExportRequest): SklearnStepResult {
  const versions = SklearnVersionsSchema.parse(r.versions ?? GATEWAY_SKLEARN_VERSIONS);
  const estimator = ESTIMATORS[r.kind];
  const hp = estimator.hyperparameters.parse(r.hyperparameters);
  if (r.train.rows !== r.labels.length) {
    throw new RouterlabError(`${r.train.rows} training embeddings but ${r.labels.length} labels`);
  }
  if (r.probes.rows !== r.expected.length) {
    throw new RouterlabError(
      `${r.probes.rows} evaluation embeddings but ${r.expected.length} routerlab decisions`,
    );
  }
  if (r.train.dim !== r.probes.dim)
    throw new RouterlabError("training and evaluation embeddings differ in dimension");
  const present = new Set(r.labels);
  const python = ensureExportPython(versions, r.log);
  const tmp = mkdtempSync(path.join(os.tmpdir(), "routerlab-sklearn-"));
  try {
    const train = path.join(tmp, "train.f32");
    const probes = path.join(tmp, "probes.f32");
    writeProbes(train, r.train);
    writeProbes(probes, r.probes);
    const reqFile = path.join(tmp, "request.json");
    // a private mkdtemp folder read by one child and removed afterwards: a plain write is enough (see writeProbes)
    writeFileSync(
      reqFile,
      JSON.stringify({
        kind: r.kind,
        dim: r.train.dim,
        train,
        train_rows: r.train.rows,
        labels: r.labels,
        hyperparameters: hp,
        probes,
        probe_rows: r.probes.rows,
        expected: r.expected,
        out: path.resolve(r.out),
        versions: { "scikit-learn": versions.sklearn, numpy: versions.numpy },
        row_checks: r.rowChecks ?? 100,
        ...(estimator.keepsClassOrder && r.classOrder
          ? { class_order: r.classOrder.filter((l) => present.has(l)) }
          : {}),
      }),
    );
    mkdirSync(path.dirname(path.resolve(r.out)), { recursive: true });
    const res = StepResult.parse(
      runPythonStep(python, "export_sklearn.py", [reqFile], { maxBuffer: 1 << 26 }),
    );
    if (!res.ok) {
      const first = res.first
        ? ` (first: query ${res.first.index}, routerlab '${res.first.routerlab}', scikit-learn '${res.first.sklearn}')`
        : "";
      throw new RouterlabError(
        `${r.kind.toUpperCase()} export refused: ${res.error ?? "unknown error"}${first}`,
      );
    }
    r.log?.(
      `scikit-learn ${res.versions?.["scikit-learn"]} step: ${r.probes.rows} probes equal in one batch, ` +
        `${res.timings?.rows_checked ?? 0} also one row at a time (the gateway's call)`,
    );
    return res;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
