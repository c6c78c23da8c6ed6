/**
 * The suite runner: `node dist/tests/harness/run-suite.js [--node-test-flags...] [targets...]` (what `npm test`
 * calls after building), e.g. `node dist/tests/harness/run-suite.js --test-name-pattern=multipart dist/tests/harness`.
 *
 * Provisions Jupyter + the tslab kernel (cached) and the headless browser (scripts/setup-browser.sh), starts S3 (SeaweedFS) then MLflow, hands them to the tests
 * through the environment (see tests/support/services.ts), runs `node --test` over `dist/tests` or the given
 * files/directories with output streamed, stops everything and exits with the tests' status.
 */
import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { projectRoot } from "../../lib/util/paths";
import { startMlflow, startS3, venvBin, type RunningService, type S3Service } from "./services";

function log(msg: string): void {
  process.stderr.write(`[routerlab services] ${msg}\n`);
}

/** Runs scripts/setup-jupyter.sh (idempotent, cached); throws with its output on failure. */
export function provisionJupyter(root: string): void {
  const started = Date.now();
  const r = spawnSync("bash", [path.join(root, "scripts", "setup-jupyter.sh")], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (r.status !== 0) {
    throw new Error(`scripts/setup-jupyter.sh failed (exit ${r.status ?? r.signal}); see its output above`);
  }
  log(`jupyter + tslab kernel ready (${((Date.now() - started) / 1000).toFixed(1)}s)`);
}

/** Runs scripts/setup-browser.sh (installs Debian's chromium when missing) and returns the browser's path. */
export function provisionBrowser(root: string): string {
  const started = Date.now();
  const r = spawnSync("bash", [path.join(root, "scripts", "setup-browser.sh")], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8",
  });
  const browser = (r.stdout ?? "").trim().split("\n").at(-1) ?? "";
  if (r.status !== 0 || browser === "") {
    throw new Error(`scripts/setup-browser.sh failed (exit ${r.status ?? r.signal}); see its output above`);
  }
  log(`browser ${browser} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
  return browser;
}

export function serviceEnv(s3: S3Service, mlflow: RunningService): Record<string, string> {
  return {
    ROUTERLAB_PYTHON: process.env.ROUTERLAB_PYTHON ?? venvBin("python"),
    ROUTERLAB_TEST_MLFLOW_URI: mlflow.url,
    ROUTERLAB_TEST_S3_ENDPOINT: s3.url,
    ROUTERLAB_TEST_S3_BUCKET: s3.bucket,
    AWS_ACCESS_KEY_ID: s3.accessKey,
    AWS_SECRET_ACCESS_KEY: s3.secretKey,
    AWS_REGION: s3.region,
    AWS_DEFAULT_REGION: s3.region,
    MLFLOW_S3_ENDPOINT_URL: s3.url,
    ROUTERLAB_TEST_JUPYTER: "1",
    // The AWS SDK warns on every process that Node 20 support ends in 2027; the notice is documented instead.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED:
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ?? "true",
  };
}

async function main(): Promise<number> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const root = projectRoot();
  // Options (e.g. --test-name-pattern=...) go to node's test runner, before the files; the rest are targets.
  const args = process.argv.slice(2);
  const nodeFlags = args.filter((a) => a.startsWith("--"));
  const given = args.filter((a) => !a.startsWith("--"));
  const targets = given.length > 0 ? given : [path.join("dist", "tests")];
  const services: RunningService[] = [];
  let child: ReturnType<typeof spawn> | undefined;
  let stopping = false;

  const stopAll = async (): Promise<void> => {
    for (const s of [...services].reverse()) {
      try {
        await s.stop();
      } catch (e) {
        log(`stopping ${s.name} failed: ${String(e)}`);
      }
    }
    services.length = 0;
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping tests and services`);
    if (child?.pid !== undefined) {
      try {
        process.kill(child.pid, sig);
      } catch {
        // already gone
      }
    }
    void stopAll().then(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);

  try {
    provisionJupyter(root);
    const browser = provisionBrowser(root);
    let t = Date.now();
    const s3 = await startS3();
    services.push(s3);
    log(`S3 (SeaweedFS) at ${s3.url}, bucket ${s3.bucket}, log ${s3.logFile} (${secs(t)})`);
    t = Date.now();
    const mlflow = await startMlflow({ s3 });
    services.push(mlflow);
    log(`MLflow at ${mlflow.url}, log ${mlflow.logFile} (${secs(t)})`);

    const env = { ...process.env, ...serviceEnv(s3, mlflow), ROUTERLAB_CHROMIUM: browser };
    const status = await new Promise<number>((resolve) => {
      child = spawn(process.execPath, ["--test", "--test-concurrency=2", ...nodeFlags, ...targets], {
        cwd: root,
        env,
        stdio: "inherit",
      });
      child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
      child.on("error", (err) => {
        log(`could not run node --test: ${String(err)}`);
        resolve(1);
      });
    });
    if (status !== 0) {
      log(`tests failed (exit ${status}); service logs: ${services.map((s) => s.logFile).join(", ")}`);
    }
    return status;
  } catch (e) {
    log(e instanceof Error ? e.message : String(e));
    return 1;
  } finally {
    if (!stopping) await stopAll();
  }
}

function secs(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)}s`;
}

if (require.main === module) {
  void main().then((code) => process.exit(code));
}
