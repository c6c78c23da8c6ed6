/**
 * JupyterLab on the project's notebooks (`npm run lab` / `routerlab lab`): the pinned JupyterLab of the project's
 * Python environment (.venv, scripts/setup-python.sh) with the tslab kernel (scripts/setup-jupyter.sh), bound to
 * loopback with a random token. Its settings and workspaces live in the project (out/jupyter), not in ~/.jupyter,
 * with the news and update checks off (they would fetch from the internet).
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "../util/atomic-write";
import { env } from "../util/env";
import { RouterlabError } from "../util/errors";
import { outDir, projectRoot } from "../util/paths";
import { httpGet, startOnFreePort, type ServerProcess } from "./server-process";

export interface LabOptions {
  /** Folder JupyterLab serves (default: the project's notebooks/). */
  notebookDir?: string;
  /** Port on 127.0.0.1 (default: one the OS picks). */
  port?: number;
  /** Access token (default: 24 random bytes, hex). */
  token?: string;
  /** The Python environment holding JupyterLab (default: $ROUTERLAB_VENV or .venv). */
  venv?: string;
  /** Where settings, workspaces and the log go (default: out/jupyter). */
  stateDir?: string;
  /** Extra environment for the server and its kernels (e.g. ROUTERLAB_NOTEBOOK_SAMPLE). */
  env?: Record<string, string>;
  /** Extra `jupyter lab` arguments. */
  extraArgs?: readonly string[];
}

export interface RunningLab {
  /** The URL to open, token included. */
  url: string;
  baseUrl: string;
  token: string;
  server: ServerProcess;
}

export function projectVenv(): string {
  return env().ROUTERLAB_VENV ?? path.join(projectRoot(), ".venv");
}

function writeLabSettings(settingsDir: string): void {
  const file = path.join(
    settingsDir,
    "@jupyterlab",
    "apputils-extension",
    "notification.jupyterlab-settings",
  );
  if (existsSync(file)) return;
  writeFileAtomic(file, JSON.stringify({ fetchNews: "false", checkForUpdates: false }, null, 2) + "\n");
}

export async function startLab(opts: LabOptions = {}): Promise<RunningLab> {
  const venv = opts.venv ?? projectVenv();
  const jupyter = path.join(venv, "bin", "jupyter");
  if (!existsSync(path.join(venv, "bin", "jupyter-lab"))) {
    throw new RouterlabError(
      "JupyterLab is not installed",
      { file: venv },
      "run `npm run lab` (it provisions it)",
    );
  }
  if (!existsSync(path.join(venv, "share", "jupyter", "kernels", "tslab", "kernel.json"))) {
    throw new RouterlabError(
      "the tslab kernel is not registered",
      { file: venv },
      "run bash scripts/setup-jupyter.sh",
    );
  }
  const notebookDir = path.resolve(opts.notebookDir ?? path.join(projectRoot(), "notebooks"));
  if (!existsSync(notebookDir)) throw new RouterlabError("no such folder", { file: notebookDir });
  const state = path.resolve(opts.stateDir ?? path.join(outDir(), "jupyter"));
  const settingsDir = path.join(state, "user-settings");
  writeLabSettings(settingsDir);
  const token = opts.token ?? randomBytes(24).toString("hex");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...opts.env,
    // The tslab kernel starts through `#!/usr/bin/env node`: make it find this Node.
    PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ""}`,
    JUPYTERLAB_SETTINGS_DIR: settingsDir,
    JUPYTERLAB_WORKSPACES_DIR: path.join(state, "workspaces"),
    PYTHONUNBUFFERED: "1",
  };
  const base = (port: number): string => `http://127.0.0.1:${port}`;
  const { port, server } = await startOnFreePort(opts.port, (port) => {
    const args = [
      "lab",
      "--no-browser",
      "--ServerApp.ip=127.0.0.1",
      `--ServerApp.port=${port}`,
      "--ServerApp.port_retries=0",
      `--ServerApp.root_dir=${notebookDir}`,
      `--IdentityProvider.token=${token}`,
      // Containers and CI often run as root; Jupyter refuses that unless told (the server is loopback-only).
      ...(process.getuid?.() === 0 ? ["--allow-root"] : []),
      ...(opts.extraArgs ?? []),
    ];
    return {
      cmd: jupyter,
      args,
      logFile: path.join(state, "jupyterlab.log"),
      env,
      cwd: notebookDir,
      what: "JupyterLab",
      ready: async () => (await httpGet(`${base(port)}/api/status?token=${token}`))?.ok === true,
      timeoutMs: 120_000,
    };
  });
  return { url: `${base(port)}/lab?token=${token}`, baseUrl: base(port), token, server };
}
