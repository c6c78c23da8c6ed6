import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { createHash } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Readable } from "node:stream";
import { z } from "zod";
import { RouterlabError } from "../util/errors";
import { sha256Hex } from "../util/hash";
import type { MlflowMetricInput } from "./client";
import { MLFLOW_LIMITS, MlflowClient } from "./client";
import type { JournalEvent, MetricEvent, RunMeta } from "./journal";
import { decodeMetricValue, readEvents, readRunMeta } from "./journal";
import { redactString } from "./redact";
import type { S3Options } from "./s3";
import { parseS3Uri, S3ArtifactStore, s3OptionsFromEnv } from "./s3";
import { writeFileAtomic } from "../util/atomic-write";
import { readJson } from "../util/read-files";

/** Tag on every server run that links it to its local journal run (makes run creation idempotent). */
export const LOCAL_RUN_TAG = "routerlab.local_run_id";

const SyncStateSchema = z.object({
  server: z.string(),
  experimentId: z.string().optional(),
  serverRunId: z.string().optional(),
  artifactUri: z.string().optional(),
  /** Every event with `s <= ackedSeq` is on the server. */
  ackedSeq: z.number(),
  /** Events in this range were being sent when the last attempt stopped: maybe on the server. */
  inflight: z.object({ from: z.number(), to: z.number() }).optional(),
  /** Events up to here may already be on the server (interrupted call, adopted run): compare first. */
  resumeUpTo: z.number().optional(),
  lastError: z.string().optional(),
});
export type SyncState = z.infer<typeof SyncStateSchema>;

export function syncStateFile(runDir: string, server: string): string {
  const id = sha256Hex(redactString(server)).slice(0, 12);
  return path.join(runDir, `sync-${id}.json`);
}

export function loadSyncState(runDir: string, server: string): SyncState {
  const file = syncStateFile(runDir, server);
  if (!existsSync(file)) return { server: redactString(server), ackedSeq: 0 };
  return readJson(file, SyncStateSchema, "sync state");
}

/** One unit of work: a log-batch, an input, an artifact, a registration or the run's end. */
type Unit =
  | {
      kind: "batch";
      from: number;
      to: number;
      metrics: MetricEvent[];
      params: Record<string, string>;
      tags: Record<string, string>;
    }
  | { kind: "single"; from: number; to: number; event: Exclude<JournalEvent, { t: "m" | "p" | "tag" }> };

export function planUnits(events: JournalEvent[]): Unit[] {
  const units: Unit[] = [];
  let cur: Extract<Unit, { kind: "batch" }> | undefined;
  const closeBatch = (): void => {
    if (cur) units.push(cur);
    cur = undefined;
  };
  for (const ev of events) {
    if (ev.t === "m" || ev.t === "p" || ev.t === "tag") {
      if (cur) {
        const np = Object.keys(cur.params).length;
        const nt = Object.keys(cur.tags).length;
        const full =
          cur.metrics.length + np + nt >= MLFLOW_LIMITS.entitiesPerBatch ||
          (ev.t === "m" && cur.metrics.length >= MLFLOW_LIMITS.metricsPerBatch) ||
          (ev.t === "p" && (np >= MLFLOW_LIMITS.paramsPerBatch || ev.k in cur.params)) ||
          (ev.t === "tag" && (nt >= MLFLOW_LIMITS.tagsPerBatch || ev.k in cur.tags));
        if (full) closeBatch();
      }
      cur ??= { kind: "batch", from: ev.s, to: ev.s, metrics: [], params: {}, tags: {} };
      cur.to = ev.s;
      if (ev.t === "m") cur.metrics.push(ev);
      else if (ev.t === "p") cur.params[ev.k] = ev.v;
      else cur.tags[ev.k] = ev.v;
    } else {
      closeBatch();
      units.push({ kind: "single", from: ev.s, to: ev.s, event: ev });
    }
  }
  closeBatch();
  return units;
}

export interface SyncResult {
  serverRunId: string;
  sent: number;
  ackedSeq: number;
  /** Metric points found already on the server when resuming and therefore not re-sent. */
  deduplicated: number;
}

export interface SyncerOptions {
  s3?: S3Options;
  /** Called before each unit is sent (tests use it to interrupt a sync). */
  beforeUnit?: (from: number, to: number) => void;
  /** Parallel log-batch calls per step (default 4); the cursor advances when all are accepted. */
  concurrency?: number;
  /** Called after the server accepted a unit, before it is acknowledged locally (tests simulate crashes). */
  afterSend?: (from: number, to: number) => void;
}

/**
 * Replays a run's journal events to one MLflow server, idempotently: a cursor (`ackedSeq`) is saved
 * after every acknowledged call; the call that was in flight when a sync stopped is compared with
 * the server (metric history) before it is re-sent, so nothing is duplicated or missing.
 */
export class RunSyncer {
  state: SyncState;
  private readonly stateFile: string;
  private s3: S3ArtifactStore | undefined;

  constructor(
    readonly runDir: string,
    readonly meta: RunMeta,
    readonly client: MlflowClient,
    private readonly options: SyncerOptions = {},
  ) {
    this.state = loadSyncState(runDir, client.baseUrl);
    this.stateFile = syncStateFile(runDir, client.baseUrl);
  }

  private save(): void {
    writeFileAtomic(this.stateFile, JSON.stringify(this.state, null, 2));
  }

  /** Finds or creates the server run for this journal run. */
  async ensureRun(maxSeq = 0): Promise<string> {
    if (this.state.serverRunId && this.state.artifactUri) return this.state.serverRunId;
    const exp = await this.client.getOrCreateExperiment(this.meta.experiment, this.meta.artifactLocation);
    this.state.experimentId = exp.experiment_id;
    const existing = await this.client.searchRuns(
      [exp.experiment_id],
      `tags.\`${LOCAL_RUN_TAG}\` = '${this.meta.localRunId}'`,
      10,
    );
    if (existing[0] && this.state.ackedSeq === 0) {
      // The run exists but this state file is new (server moved, state lost): compare everything.
      this.state.resumeUpTo = Math.max(this.state.resumeUpTo ?? 0, maxSeq);
    }
    const run =
      existing[0] ??
      (await this.client.createRun({
        experimentId: exp.experiment_id,
        runName: this.meta.runName,
        startTime: this.meta.startTime,
        tags: { [LOCAL_RUN_TAG]: this.meta.localRunId, "mlflow.runName": this.meta.runName },
      }));
    this.state.serverRunId = run.info.run_id;
    this.state.artifactUri = run.info.artifact_uri;
    this.save();
    return run.info.run_id;
  }

  /** Sends every event with `s > ackedSeq` (in order). Throws on the first failure; progress is kept. */
  async push(events: readonly JournalEvent[]): Promise<SyncResult> {
    const maxSeq = events.reduce((m, e) => Math.max(m, e.s), 0);
    const runId = await this.ensureRun(maxSeq);
    if (this.state.inflight) {
      this.state.resumeUpTo = Math.max(this.state.resumeUpTo ?? 0, this.state.inflight.to);
    }
    const pending = events.filter((e) => e.s > this.state.ackedSeq);
    let sent = 0;
    let deduplicated = 0;
    const history = new Map<string, Set<string>>();
    const units = planUnits(pending);
    const concurrency = Math.max(1, this.options.concurrency ?? 4);
    for (let i = 0; i < units.length;) {
      const first = units[i]!;
      const resuming = this.state.resumeUpTo !== undefined && first.from <= this.state.resumeUpTo;
      // Consecutive log-batch calls go out in parallel (they commute); everything else one at a time.
      const group: Unit[] = [first];
      if (first.kind === "batch" && !resuming) {
        while (group.length < concurrency && i + group.length < units.length) {
          const next = units[i + group.length]!;
          if (next.kind !== "batch") break;
          group.push(next);
        }
      }
      i += group.length;
      const from = first.from;
      const to = group.at(-1)!.to;
      this.options.beforeUnit?.(from, to);
      this.state.inflight = { from, to };
      this.save();
      try {
        await Promise.all(
          group.map(async (unit) => {
            if (unit.kind === "batch") {
              let metrics = unit.metrics;
              if (resuming && metrics.length > 0) {
                const before = metrics.length;
                metrics = await this.withoutServerDuplicates(runId, metrics, history);
                deduplicated += before - metrics.length;
              }
              await this.client.logBatchRaw(runId, {
                metrics: metrics.map(toMlflowMetric),
                params: unit.params,
                tags: unit.tags,
              });
            } else {
              await this.sendSingle(runId, unit.event);
            }
            this.options.afterSend?.(unit.from, unit.to);
          }),
        );
      } catch (e) {
        this.state.lastError = redactString(e instanceof Error ? e.message : String(e));
        this.save();
        throw e;
      }
      this.state.ackedSeq = to;
      this.state.inflight = undefined;
      this.state.lastError = undefined;
      if (this.state.resumeUpTo !== undefined && this.state.ackedSeq >= this.state.resumeUpTo) {
        this.state.resumeUpTo = undefined;
      }
      sent += to - from + 1;
      this.save();
    }
    return { serverRunId: runId, sent, ackedSeq: this.state.ackedSeq, deduplicated };
  }

  /** Drops metric points the server already has (history fetched once per key per push). */
  private async withoutServerDuplicates(
    runId: string,
    metrics: MetricEvent[],
    history: Map<string, Set<string>>,
  ): Promise<MetricEvent[]> {
    for (const key of new Set(metrics.map((m) => m.k))) {
      if (history.has(key)) continue;
      const seen = new Set<string>();
      for (const h of await this.client.getMetricHistory(runId, key)) {
        seen.add(metricIdentity(key, Number(h.value), h.step, h.timestamp));
      }
      history.set(key, seen);
    }
    return metrics.filter(
      (m) => !history.get(m.k)!.has(metricIdentity(m.k, decodeMetricValue(m.v), m.st, m.ts)),
    );
  }

  private async sendSingle(
    runId: string,
    ev: Exclude<JournalEvent, { t: "m" | "p" | "tag" }>,
  ): Promise<void> {
    switch (ev.t) {
      case "input":
        await this.client.logInputs(runId, [ev.dataset]);
        return;
      case "artifact":
        await this.uploadArtifact(path.join(this.runDir, ev.file), ev.path, ev.sha256);
        return;
      case "register": {
        await this.client.createRegisteredModel(ev.name);
        const source = `${this.state.artifactUri!.replace(/\/+$/, "")}/${ev.artifactPath.replace(/^\/+/, "")}`;
        const existing = (
          await this.client.searchModelVersions(`name='${ev.name.replace(/'/g, "\\'")}'`)
        ).find((v) => v.run_id === runId && v.source === source);
        const version = existing ?? (await this.client.createModelVersion(ev.name, source, runId));
        if (ev.alias) await this.client.setModelAlias(ev.name, ev.alias, version.version);
        return;
      }
      case "end":
        await this.client.updateRun(runId, ev.status, ev.ts);
        return;
    }
  }

  /** Uploads one file to the run's artifact store: the server proxy, S3 directly, or a local folder. */
  async uploadArtifact(localFile: string, artifactPath: string, sha256: string): Promise<void> {
    const root = this.state.artifactUri;
    if (!root) throw new RouterlabError("run has no artifact URI");
    if (root.startsWith("mlflow-artifacts:")) {
      const proxyPath = MlflowClient.proxyPath(root, artifactPath);
      await this.client.uploadArtifactViaProxy(localFile, proxyPath, contentTypeOf(artifactPath));
      const remote = await sha256Stream(await this.client.downloadArtifactViaProxy(proxyPath));
      if (remote !== sha256) {
        throw new RouterlabError(
          `artifact checksum mismatch after upload: ${artifactPath} (local ${sha256}, server ${remote})`,
        );
      }
      return;
    }
    if (root.startsWith("s3://") || root.startsWith("s3a://")) {
      const { bucket, key } = parseS3Uri(root);
      this.s3 ??= new S3ArtifactStore(this.options.s3 ?? s3OptionsFromEnv());
      await this.s3.uploadFile(localFile, bucket, [key, artifactPath].filter((s) => s).join("/"), sha256);
      return;
    }
    if (root.startsWith("file:") || root.startsWith("/")) {
      const dir = root.startsWith("file:") ? fileURLToPath(root) : root;
      const dest = path.join(dir, artifactPath);
      mkdirSync(path.dirname(dest), { recursive: true });
      copyFileSync(localFile, dest);
      return;
    }
    throw new RouterlabError(
      `unsupported artifact store for run: ${redactString(root)}`,
      undefined,
      "use mlflow-artifacts (server proxy) or s3://",
    );
  }

  close(): void {
    this.s3?.destroy();
  }
}

function toMlflowMetric(m: MetricEvent): MlflowMetricInput {
  return { key: m.k, value: decodeMetricValue(m.v), timestamp: m.ts, step: m.st };
}

function metricIdentity(key: string, value: number, step: number, ts: number): string {
  return `${key}\u0000${step}\u0000${ts}\u0000${Number.isNaN(value) ? "NaN" : String(value)}`;
}

function contentTypeOf(p: string): string {
  const ext = path.extname(p).toLowerCase();
  return (
    {
      ".html": "text/html",
      ".json": "application/json",
      ".txt": "text/plain",
      ".csv": "text/csv",
      ".yaml": "text/yaml",
      ".png": "image/png",
    }[ext] ?? "application/octet-stream"
  );
}

async function sha256Stream(stream: ReadableStream<Uint8Array>): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of Readable.fromWeb(stream as Parameters<typeof Readable.fromWeb>[0]))
    hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Syncs one journal run folder (CLI `routerlab tracking sync`). */
export async function syncRunDir(
  runDir: string,
  client: MlflowClient,
  options: SyncerOptions = {},
): Promise<SyncResult> {
  const meta = readRunMeta(runDir);
  const syncer = new RunSyncer(runDir, meta, client, options);
  try {
    return await syncer.push(readEvents(runDir));
  } finally {
    syncer.close();
  }
}
