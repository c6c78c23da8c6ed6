import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { RouterlabError } from "../util/errors";
import { sha256File, sha256Hex } from "../util/hash";
import { projectRoot } from "../util/paths";
import { MLFLOW_LIMITS, MlflowClient, MlflowUnavailableError } from "./client";
import type { JournalDataset, JournalEvent, RunMeta } from "./journal";
import { encodeMetricValue, journalRoot, JournalWriter } from "./journal";
import {
  flattenConfig,
  knownSecretValues,
  redactString,
  redactValue,
  scrubKnownSecrets,
  secretValuesIn,
} from "./redact";
import type { RunStatus } from "./schemas";
import type { S3Options } from "./s3";
import { RunSyncer } from "./sync";
import { writeFileAtomic } from "../util/atomic-write";

export interface StartRunOptions {
  experiment: string;
  runName?: string;
  /** The full resolved config; logged as flattened params and as `config.json` (secrets redacted). */
  config?: unknown;
  seeds?: Record<string, number>;
  /** Fingerprints (e.g. sha256) of the data files the run reads. */
  dataFingerprints?: Record<string, string>;
  tags?: Record<string, string>;
  /** Server URI; defaults to MLFLOW_TRACKING_URI. Unset: journal only (embedded mode). */
  trackingUri?: string;
  /** Journal root folder; defaults to ROUTERLAB_TRACKING_DIR or out/mlruns-journal. */
  journalDir?: string;
  /** Artifact location for a new experiment (e.g. `s3://bucket/prefix`). */
  artifactLocation?: string;
  s3?: S3Options;
  /** How often the journal is flushed to disk (ms). */
  flushIntervalMs?: number;
  /** How often pending events are pushed to the server in the background (ms). */
  syncIntervalMs?: number;
  /** End the run as KILLED on SIGINT/SIGTERM and FAILED on an uncaught exception (default true). */
  handleSignals?: boolean;
  /** Where warnings go (default stderr). */
  log?: (msg: string) => void;
}

export interface LogInputOptions {
  name: string;
  /** The data itself (hashed for the digest) or a precomputed digest. */
  data?: string | Uint8Array;
  digest?: string;
  source: string;
  sourceType?: string;
  context?: string;
  schema?: unknown;
  profile?: unknown;
}

export interface EndResult {
  status: RunStatus;
  localRunId: string;
  runDir: string;
  /** Server run id if the run reached the server. */
  serverRunId?: string;
  /** True when every event reached the server (false in journal-only mode). */
  synced: boolean;
  error?: string;
}

function routerlabVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(projectRoot(), "package.json"), "utf8")) as {
      version?: unknown;
    };
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}

function gitInfo(): { commit: string; dirty: boolean } | undefined {
  try {
    const cwd = projectRoot();
    const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd, stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
    const status = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], {
      cwd,
      stdio: ["ignore", "pipe", "ignore"],
    }).toString();
    return { commit, dirty: status.trim().length > 0 };
  } catch {
    return undefined;
  }
}

function checkKey(kind: string, key: string): void {
  if (key.length === 0 || key.length > MLFLOW_LIMITS.keyLength || !/^[\w\-. /]+$/.test(key)) {
    throw new RouterlabError(
      `invalid ${kind} name '${key}'`,
      undefined,
      `use 1-${MLFLOW_LIMITS.keyLength} characters from letters, digits, _ - . space and /`,
    );
  }
}

function truncate(value: string, limit: number): string {
  return value.length <= limit ? value : `${value.slice(0, limit - 15)}...[truncated]`;
}

/** All active runs, for the process-level signal handlers. */
const activeRuns = new Set<TrackedRun>();
let handlersInstalled = false;

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const onSignal = (sig: NodeJS.Signals): void => {
    const runs = [...activeRuns];
    void Promise.all(runs.map((r) => r.end("KILLED", { timeoutMs: 3000 }).catch(() => undefined))).then(
      () => {
        // Only exit if nobody else handles the signal (otherwise let them decide).
        if (process.listenerCount(sig) <= 1) process.exit(128 + (os.constants.signals[sig] ?? 1));
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("exit", (code) => {
    for (const r of activeRuns) r.endSync(code === 0 ? "FINISHED" : "FAILED");
  });
  process.on("uncaughtExceptionMonitor", () => {
    for (const r of activeRuns) r.endSync("FAILED");
  });
}

/**
 * A run: every call goes to the local journal first (in memory, flushed asynchronously), then in
 * the background to the MLflow server if one is configured. `end()` records the final status.
 */
export class TrackedRun {
  readonly localRunId: string;
  readonly runDir: string;
  readonly meta: RunMeta;
  private readonly journal: JournalWriter;
  private seq = 0;
  private unsynced: JournalEvent[] = [];
  private readonly params = new Map<string, string>();
  private readonly secrets: string[];
  private readonly syncer: RunSyncer | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private nextSyncAt = 0;
  private backoffMs = 1000;
  private offlineWarned = false;
  private ended: EndResult | undefined;
  private ending: Promise<EndResult> | undefined;
  private readonly log: (msg: string) => void;
  private artifactCount = 0;

  constructor(opts: StartRunOptions) {
    this.log = opts.log ?? ((m) => process.stderr.write(`routerlab tracking: ${m}\n`));
    this.secrets = [...knownSecretValues(), ...secretValuesIn(opts.config)];
    const root = opts.journalDir ?? journalRoot();
    const startTime = Date.now();
    this.localRunId = `${new Date(startTime).toISOString().replace(/[-:]/g, "").replace(/\..*/, "")}-${randomUUID().slice(0, 8)}`;
    this.runDir = path.join(root, this.localRunId);
    mkdirSync(path.join(this.runDir, "files"), { recursive: true });
    this.meta = {
      format: 1,
      localRunId: this.localRunId,
      experiment: opts.experiment,
      runName: opts.runName ?? this.localRunId,
      startTime,
      ...(opts.artifactLocation ? { artifactLocation: opts.artifactLocation } : {}),
    };
    writeFileAtomic(path.join(this.runDir, "run.json"), JSON.stringify(this.meta, null, 2));
    this.journal = new JournalWriter(this.runDir, opts.flushIntervalMs ?? 200);

    const uri = opts.trackingUri ?? process.env.MLFLOW_TRACKING_URI;
    if (uri && /^https?:\/\//.test(uri)) {
      this.syncer = new RunSyncer(this.runDir, this.meta, new MlflowClient(uri), { s3: opts.s3 });
      this.syncTimer = setInterval(() => this.kick(), opts.syncIntervalMs ?? 2000);
      this.syncTimer.unref();
    } else if (uri && !uri.startsWith("file:")) {
      this.log(`unsupported MLFLOW_TRACKING_URI scheme (${redactString(uri)}); logging to the journal only`);
    }

    activeRuns.add(this);
    if (opts.handleSignals !== false) installHandlers();

    const git = gitInfo();
    const tags: Record<string, string> = {
      "routerlab.version": routerlabVersion(),
      "routerlab.node_version": process.version,
      "routerlab.platform": `${process.platform}-${process.arch}`,
      "routerlab.hostname": os.hostname(),
      "mlflow.source.type": "LOCAL",
      "mlflow.source.name": redactString(
        process.argv
          .slice(1)
          .map((a) => path.basename(a))
          .join(" "),
      ).slice(0, 500),
      "mlflow.user": os.userInfo().username,
      ...(git ? { "mlflow.source.git.commit": git.commit, "routerlab.git.dirty": String(git.dirty) } : {}),
      ...(opts.tags ?? {}),
    };
    this.setTags(tags);
    if (opts.config !== undefined) {
      this.logParams(flattenConfig(opts.config));
      this.logJson("config.json", opts.config);
    }
    if (opts.seeds)
      this.logParams(
        Object.fromEntries(Object.entries(opts.seeds).map(([k, v]) => [`seed.${k}`, String(v)])),
      );
    if (opts.dataFingerprints) {
      this.setTags(
        Object.fromEntries(Object.entries(opts.dataFingerprints).map(([k, v]) => [`routerlab.data.${k}`, v])),
      );
    }
  }

  private push(ev: JournalEvent): void {
    this.journal.append(ev);
    if (this.syncer) this.unsynced.push(ev);
  }

  private assertOpen(): void {
    if (this.ended) throw new RouterlabError(`run ${this.localRunId} has ended; start a new run`);
  }

  private clean(s: string): string {
    return redactString(s, this.secrets);
  }

  /** Hot path: O(1), no I/O. Flushed to the journal asynchronously, to the server in the background. */
  logMetric(key: string, value: number, step = 0): void {
    if (this.ended) return;
    this.push({ s: ++this.seq, t: "m", k: key, v: encodeMetricValue(value), ts: Date.now(), st: step });
  }

  logMetrics(metrics: Record<string, number>, step = 0): void {
    for (const [k, v] of Object.entries(metrics)) {
      checkKey("metric", k);
      this.logMetric(k, v, step);
    }
  }

  logParams(params: Record<string, unknown>): void {
    this.assertOpen();
    const redacted = redactValue(params, this.secrets) as Record<string, unknown>;
    for (const [k, raw] of Object.entries(redacted)) {
      checkKey("param", k);
      const v = truncate(
        typeof raw === "string" ? raw : JSON.stringify(raw ?? null),
        MLFLOW_LIMITS.paramValueLength,
      );
      const prev = this.params.get(k);
      if (prev !== undefined) {
        if (prev === v) continue;
        throw new RouterlabError(
          `param '${k}' already logged as '${prev}'; params cannot change within a run`,
        );
      }
      this.params.set(k, v);
      this.push({ s: ++this.seq, t: "p", k, v });
    }
  }

  setTags(tags: Record<string, string>): void {
    this.assertOpen();
    const redacted = redactValue(tags, this.secrets) as Record<string, string>;
    for (const [k, v] of Object.entries(redacted)) {
      checkKey("tag", k);
      this.push({ s: ++this.seq, t: "tag", k, v: truncate(String(v), MLFLOW_LIMITS.tagValueLength) });
    }
  }

  /** Records a dataset input (`log-inputs`) with a sha256 digest of its data. */
  logInput(dataset: LogInputOptions): void {
    this.assertOpen();
    const digest = dataset.digest ?? (dataset.data !== undefined ? sha256Hex(dataset.data) : undefined);
    if (!digest) throw new RouterlabError(`dataset '${dataset.name}' needs data or a digest`);
    const ds: JournalDataset = {
      name: dataset.name,
      digest: digest.slice(0, MLFLOW_LIMITS.datasetDigestLength),
      sourceType: dataset.sourceType ?? "local",
      source: this.clean(JSON.stringify({ uri: dataset.source })),
      ...(dataset.schema !== undefined ? { schema: JSON.stringify(dataset.schema) } : {}),
      ...(dataset.profile !== undefined ? { profile: JSON.stringify(dataset.profile) } : {}),
      ...(dataset.context ? { context: dataset.context } : {}),
    };
    this.push({ s: ++this.seq, t: "input", dataset: ds });
  }

  /**
   * Copies a file into the journal (so it survives until uploaded) and logs it under
   * `artifactPath/<basename>` (or at the run's artifact root).
   */
  async logArtifact(localPath: string, artifactPath?: string): Promise<string> {
    this.assertOpen();
    if (!existsSync(localPath) || !statSync(localPath).isFile()) {
      throw new RouterlabError(`artifact is not a file: ${localPath}`);
    }
    const dest = [artifactPath?.replace(/^\/+|\/+$/g, ""), path.basename(localPath)]
      .filter((s) => s)
      .join("/");
    const file = `files/${++this.artifactCount}-${path.basename(localPath)}`;
    copyFileSync(localPath, path.join(this.runDir, file));
    const sha256 = await sha256File(path.join(this.runDir, file));
    this.push({
      s: ++this.seq,
      t: "artifact",
      file,
      path: dest,
      sha256,
      size: statSync(path.join(this.runDir, file)).size,
    });
    this.kick();
    return dest;
  }

  private logContent(name: string, content: string, patterns: boolean): void {
    this.assertOpen();
    // HTML (with inlined JS): only exact secret values are replaced, not URL patterns, which could be code.
    const text = patterns ? this.clean(content) : scrubKnownSecrets(content, this.secrets);
    const file = `files/${++this.artifactCount}-${path.basename(name)}`;
    writeFileAtomic(path.join(this.runDir, file), text);
    this.push({
      s: ++this.seq,
      t: "artifact",
      file,
      path: name.replace(/^\/+/, ""),
      sha256: sha256Hex(text),
      size: Buffer.byteLength(text),
    });
  }

  logText(name: string, content: string): void {
    this.logContent(name, content, true);
  }

  logJson(name: string, value: unknown): void {
    this.logContent(name, JSON.stringify(redactValue(value, this.secrets), null, 2), true);
  }

  /** An HTML file (e.g. a standalone plotly figure); the MLflow UI previews `.html` artifacts. */
  logHtml(name: string, html: string): void {
    this.logContent(name.endsWith(".html") ? name : `${name}.html`, html, false);
  }

  /** Registers the artifact folder as a model version and points `alias` (e.g. `champion`) at it. */
  registerModel(name: string, artifactPath: string, opts: { alias?: string } = {}): void {
    this.assertOpen();
    this.push({
      s: ++this.seq,
      t: "register",
      name,
      artifactPath,
      ...(opts.alias ? { alias: opts.alias } : {}),
    });
  }

  /** Starts a background push to the server unless one is running or the server is backing off. */
  private kick(): void {
    if (!this.syncer || this.syncing || Date.now() < this.nextSyncAt || this.unsynced.length === 0) return;
    this.syncing = this.syncOnce()
      .catch((e: unknown) => this.onSyncError(e))
      .finally(() => {
        this.syncing = undefined;
      });
  }

  private async syncOnce(): Promise<void> {
    const syncer = this.syncer!;
    const batch = this.unsynced;
    await syncer.push(batch);
    const acked = syncer.state.ackedSeq;
    this.unsynced = this.unsynced.filter((e) => e.s > acked);
    this.backoffMs = 1000;
    if (this.offlineWarned) {
      this.log(`MLflow server reachable again; run ${this.localRunId} caught up`);
      this.offlineWarned = false;
    }
  }

  private onSyncError(e: unknown): void {
    const acked = this.syncer!.state.ackedSeq;
    this.unsynced = this.unsynced.filter((ev) => ev.s > acked);
    this.nextSyncAt = Date.now() + this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 60_000);
    if (!this.offlineWarned) {
      this.offlineWarned = true;
      const what =
        e instanceof MlflowUnavailableError ? "MLflow server unreachable" : "sync to MLflow failed";
      this.log(
        `${what} (${this.clean(e instanceof Error ? e.message : String(e))}); the run continues in ${this.runDir} and will sync later`,
      );
    }
  }

  /** Pushes everything logged so far to the server now (throws if the server is unreachable). */
  async flush(): Promise<void> {
    await this.journal.flush();
    if (!this.syncer) return;
    while (this.syncing) await this.syncing;
    await this.syncOnce();
  }

  /** Synchronous best-effort end used on process exit: records the status in the journal only. */
  endSync(status: RunStatus): void {
    if (this.ended) return;
    this.push({ s: ++this.seq, t: "end", status, ts: Date.now() });
    this.journal.stopTimer();
    try {
      this.journal.flushSync();
    } catch {
      // nothing more can be done at exit
    }
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.ended = { status, localRunId: this.localRunId, runDir: this.runDir, synced: false };
    activeRuns.delete(this);
  }

  /**
   * Ends the run: records the status (FINISHED by default), fsyncs the journal, then tries a final
   * sync (bounded by `timeoutMs`). Never throws because of the server: the journal keeps the run.
   */
  end(status: RunStatus = "FINISHED", opts: { timeoutMs?: number } = {}): Promise<EndResult> {
    if (this.ended && !this.ending) return Promise.resolve(this.ended);
    // concurrent callers (e.g. a SIGINT handler racing the normal exit path) share one end
    this.ending ??= this.endOnce(status, opts);
    return this.ending;
  }

  private async endOnce(status: RunStatus, opts: { timeoutMs?: number }): Promise<EndResult> {
    this.push({ s: ++this.seq, t: "end", status, ts: Date.now() });
    activeRuns.delete(this);
    if (this.syncTimer) clearInterval(this.syncTimer);
    await this.journal.close();
    const result: EndResult = {
      status,
      localRunId: this.localRunId,
      runDir: this.runDir,
      synced: false,
    };
    this.ended = result;
    if (this.syncer) {
      try {
        if (this.syncing) await this.syncing.catch(() => undefined);
        const timeoutMs = opts.timeoutMs ?? 600_000;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          this.syncOnce(),
          new Promise((_r, reject) => {
            timer = setTimeout(
              () => reject(new RouterlabError(`final sync timed out after ${timeoutMs} ms`)),
              timeoutMs,
            );
            timer.unref();
          }),
        ]).finally(() => clearTimeout(timer));
        result.synced = true;
      } catch (e) {
        result.error = this.clean(e instanceof Error ? e.message : String(e));
        this.log(
          `run ${this.localRunId} kept in ${this.runDir} (${result.error}); run \`routerlab tracking sync\` to upload it`,
        );
      } finally {
        this.syncer.close();
      }
      if (this.syncer.state.serverRunId) result.serverRunId = this.syncer.state.serverRunId;
    }
    return result;
  }
}

/** Starts a tracked run (see {@link TrackedRun}). */
export function startRun(opts: StartRunOptions): TrackedRun {
  return new TrackedRun(opts);
}

/** Runs `fn` inside a run: FINISHED on success, FAILED on an exception (re-thrown). */
export async function withRun<T>(opts: StartRunOptions, fn: (run: TrackedRun) => Promise<T>): Promise<T> {
  const run = startRun(opts);
  let value: T;
  try {
    value = await fn(run);
  } catch (e) {
    await run.end("FAILED");
    throw e;
  }
  await run.end("FINISHED");
  return value;
}
