import { existsSync } from "node:fs";
import path from "node:path";
import { env } from "./env";

/** The repository root, found from this file whether it runs from `lib/` (tsx) or `dist/lib/` (compiled). */
export function projectRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(path.join(dir, "package.json")) && existsSync(path.join(dir, "lib"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the routerlab root above ${__dirname}`);
    dir = parent;
  }
}

export function dataDir(): string {
  return env().ROUTERLAB_DATA_DIR ?? path.join(projectRoot(), "data");
}

/** Caches (embeddings, LLM responses, models). Overridable so tests can use an empty one. */
export function cacheDir(): string {
  return env().ROUTERLAB_CACHE_DIR ?? path.join(projectRoot(), ".cache");
}

export function outDir(): string {
  return env().ROUTERLAB_OUT_DIR ?? path.join(projectRoot(), "out");
}

/** The project's Python environment, created by scripts/setup-python.sh. */
export function venvPython(): string {
  return env().ROUTERLAB_PYTHON ?? path.join(projectRoot(), ".venv", "bin", "python");
}
