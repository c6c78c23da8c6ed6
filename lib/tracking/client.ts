import { createReadStream, statSync } from "node:fs";
import { Readable } from "node:stream";
import type { z } from "zod";
import { RouterlabError } from "../util/errors";
import { encodeMetricValue } from "./journal";
import { issueKeyPath, jsonPathOf } from "../util/zod-error";
import { redactString } from "./redact";
import type { Experiment, FileInfo, Metric, ModelVersion, Run, RunInfo, RunStatus } from "./schemas";
import {
  CreateExperimentResponse,
  EmptyResponse,
  GetExperimentResponse,
  ListArtifactsResponse,
  MetricHistoryResponse,
  MlflowErrorBody,
  ModelVersionResponse,
  RegisteredModelResponse,
  RunResponse,
  SearchModelVersionsResponse,
  SearchRunsResponse,
  UpdateRunResponse,
} from "./schemas";

/** MLflow's per-call limits for `runs/log-batch` and value lengths (mlflow/utils/validation.py). */
export const MLFLOW_LIMITS = {
  metricsPerBatch: 1000,
  paramsPerBatch: 100,
  tagsPerBatch: 100,
  entitiesPerBatch: 1000,
  paramValueLength: 6000,
  tagValueLength: 8000,
  keyLength: 250,
  datasetDigestLength: 36,
  inputTagValueLength: 500,
} as const;

/** An error returned by the MLflow server (it answered, with an error code). */
export class MlflowApiError extends RouterlabError {
  constructor(
    readonly endpoint: string,
    readonly status: number,
    readonly errorCode: string,
    detail: string,
  ) {
    super(
      `MLflow ${endpoint} failed (${status} ${errorCode}): ${detail}`,
      undefined,
      HINTS[errorCode] ?? (status >= 500 ? "the MLflow server failed; check its log" : undefined),
    );
    this.name = "MlflowApiError";
  }
}

/** The MLflow server could not be reached (connection refused, timeout, DNS). Safe to retry later. */
export class MlflowUnavailableError extends RouterlabError {
  constructor(
    readonly endpoint: string,
    cause: string,
  ) {
    super(
      `MLflow server unreachable at ${endpoint}: ${cause}`,
      undefined,
      "the run continues in the local journal; run `routerlab tracking sync` when the server is back",
    );
    this.name = "MlflowUnavailableError";
  }
}

const HINTS: Record<string, string> = {
  RESOURCE_DOES_NOT_EXIST:
    "the experiment, run or model does not exist on this server (check MLFLOW_TRACKING_URI)",
  RESOURCE_ALREADY_EXISTS: "an entity with this name already exists",
  INVALID_PARAMETER_VALUE: "MLflow rejected a value; params cannot change value once logged in a run",
  PERMISSION_DENIED: "check MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD",
  UNAUTHENTICATED: "check MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD",
  INVALID_STATE: "the run is not active (deleted or already finished?)",
};

export interface MlflowMetricInput {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

export interface DatasetInput {
  name: string;
  digest: string;
  sourceType: string;
  source: string;
  schema?: string;
  profile?: string;
  context?: string;
}

export interface MlflowClientOptions {
  /** Extra headers, e.g. auth. By default taken from MLFLOW_TRACKING_TOKEN / _USERNAME / _PASSWORD. */
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * Every item of a paged MLflow listing: `page(token)` fetches one page and its next-page token; pages are read
 * until there is no next token or `max` items have come.
 */
async function allPages<T>(
  page: (token: string | undefined) => Promise<readonly [readonly T[], string | undefined]>,
  max = Infinity,
): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const [items, next] = await page(token);
    out.push(...items);
    token = next || undefined;
  } while (token && out.length < max);
  return out;
}

function authHeaders(base: URL): Record<string, string> {
  const h: Record<string, string> = {};
  const token = process.env.MLFLOW_TRACKING_TOKEN;
  const user =
    process.env.MLFLOW_TRACKING_USERNAME ?? (base.username ? decodeURIComponent(base.username) : "");
  const pass =
    process.env.MLFLOW_TRACKING_PASSWORD ?? (base.password ? decodeURIComponent(base.password) : "");
  if (token) h.authorization = `Bearer ${token}`;
  else if (user) h.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
  return h;
}

/**
 * A small typed MLflow REST client (fetch based). Every response is schema-checked; MLflow error
 * codes become {@link MlflowApiError}, network failures {@link MlflowUnavailableError}.
 */
export class MlflowClient {
  readonly baseUrl: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(trackingUri: string, opts: MlflowClientOptions = {}) {
    const u = new URL(trackingUri);
    const headers = { ...authHeaders(u), ...(opts.headers ?? {}) };
    u.username = "";
    u.password = "";
    this.baseUrl = u.toString().replace(/\/+$/, "");
    this.headers = headers;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  /** The URL without credentials, safe for messages. */
  get displayUrl(): string {
    return redactString(this.baseUrl);
  }

  private async request<S extends z.ZodType>(
    method: "GET" | "POST" | "PATCH" | "DELETE",
    endpoint: string,
    schema: S,
    body?: unknown,
    query?: Record<string, string | number | undefined>,
  ): Promise<z.infer<S>> {
    const url = new URL(`${this.baseUrl}/api/2.0/mlflow/${endpoint}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    let res: Response | undefined;
    // A keep-alive connection the server closed while we were busy fails the next request at once
    // (UND_ERR_SOCKET); reads are safe to send again, writes are left to the journal's resumable sync.
    const attempts = method === "GET" ? 3 : 1;
    for (let attempt = 1; res === undefined; attempt++) {
      try {
        res = await fetch(url, {
          method,
          headers: { ...this.headers, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
          body: body !== undefined ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (e) {
        if (attempt >= attempts) throw new MlflowUnavailableError(this.displayUrl, describeFetchError(e));
      }
    }
    const text = await res.text();
    if (!res.ok) throw apiError(endpoint, res.status, text);
    let json: unknown;
    try {
      json = text.length > 0 ? JSON.parse(text) : {};
    } catch {
      throw new MlflowApiError(endpoint, res.status, "BAD_RESPONSE", `not JSON: ${text.slice(0, 200)}`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new MlflowApiError(
        endpoint,
        res.status,
        "BAD_RESPONSE",
        `unexpected response at ${jsonPathOf("$", issueKeyPath(issue))}: ${issue.message}`,
      );
    }
    return parsed.data;
  }

  // ---- experiments -------------------------------------------------------------------------

  async getExperimentByName(name: string): Promise<Experiment | undefined> {
    try {
      const r = await this.request("GET", "experiments/get-by-name", GetExperimentResponse, undefined, {
        experiment_name: name,
      });
      return r.experiment;
    } catch (e) {
      if (e instanceof MlflowApiError && e.errorCode === "RESOURCE_DOES_NOT_EXIST") return undefined;
      throw e;
    }
  }

  async createExperiment(name: string, artifactLocation?: string): Promise<string> {
    const r = await this.request("POST", "experiments/create", CreateExperimentResponse, {
      name,
      ...(artifactLocation ? { artifact_location: artifactLocation } : {}),
    });
    return r.experiment_id;
  }

  /** Returns the experiment's id, creating it if needed (safe against a concurrent creator). */
  async getOrCreateExperiment(name: string, artifactLocation?: string): Promise<Experiment> {
    const existing = await this.getExperimentByName(name);
    if (existing) return existing;
    try {
      await this.createExperiment(name, artifactLocation);
    } catch (e) {
      if (!(e instanceof MlflowApiError && e.errorCode === "RESOURCE_ALREADY_EXISTS")) throw e;
    }
    const created = await this.getExperimentByName(name);
    if (!created) throw new RouterlabError(`experiment '${name}' vanished right after creation`);
    return created;
  }

  // ---- runs --------------------------------------------------------------------------------

  async createRun(args: {
    experimentId: string;
    runName?: string;
    startTime?: number;
    tags?: Record<string, string>;
  }): Promise<Run> {
    const r = await this.request("POST", "runs/create", RunResponse, {
      experiment_id: args.experimentId,
      run_name: args.runName,
      start_time: args.startTime ?? Date.now(),
      tags: Object.entries(args.tags ?? {}).map(([key, value]) => ({ key, value })),
    });
    return r.run;
  }

  async getRun(runId: string): Promise<Run> {
    return (await this.request("GET", "runs/get", RunResponse, undefined, { run_id: runId })).run;
  }

  async updateRun(runId: string, status: RunStatus, endTime?: number): Promise<RunInfo | undefined> {
    const r = await this.request("POST", "runs/update", UpdateRunResponse, {
      run_id: runId,
      status,
      ...(endTime !== undefined ? { end_time: endTime } : {}),
    });
    return r.run_info;
  }

  endRun(runId: string, status: RunStatus = "FINISHED", endTime = Date.now()): Promise<RunInfo | undefined> {
    return this.updateRun(runId, status, endTime);
  }

  /** All runs matching an MLflow filter string (pages through results). */
  async searchRuns(experimentIds: string[], filter = "", maxResults = 1000): Promise<Run[]> {
    return allPages(async (pageToken) => {
      const r = await this.request("POST", "runs/search", SearchRunsResponse, {
        experiment_ids: experimentIds,
        filter,
        max_results: Math.min(maxResults, 1000),
        ...(pageToken ? { page_token: pageToken } : {}),
      });
      return [r.runs, r.next_page_token];
    }, maxResults);
  }

  // ---- logging -----------------------------------------------------------------------------

  /** One `runs/log-batch` call; the caller respects {@link MLFLOW_LIMITS}. */
  async logBatchRaw(
    runId: string,
    batch: { metrics?: MlflowMetricInput[]; params?: Record<string, string>; tags?: Record<string, string> },
  ): Promise<void> {
    await this.request("POST", "runs/log-batch", EmptyResponse, {
      run_id: runId,
      metrics: (batch.metrics ?? []).map((m) => ({ ...m, value: encodeMetricValue(m.value) })),
      params: Object.entries(batch.params ?? {}).map(([key, value]) => ({ key, value })),
      tags: Object.entries(batch.tags ?? {}).map(([key, value]) => ({ key, value })),
    });
  }

  /** Logs any number of metrics, params and tags, split into calls within MLflow's limits. */
  async logBatch(
    runId: string,
    batch: { metrics?: MlflowMetricInput[]; params?: Record<string, string>; tags?: Record<string, string> },
  ): Promise<number> {
    const calls = splitBatch(batch);
    for (const c of calls) await this.logBatchRaw(runId, c);
    return calls.length;
  }

  logMetric(runId: string, key: string, value: number, step = 0, timestamp = Date.now()): Promise<void> {
    return this.logBatchRaw(runId, { metrics: [{ key, value, step, timestamp }] });
  }

  logParam(runId: string, key: string, value: string): Promise<void> {
    return this.logBatchRaw(runId, { params: { [key]: value } });
  }

  setTag(runId: string, key: string, value: string): Promise<void> {
    return this.logBatchRaw(runId, { tags: { [key]: value } });
  }

  /** `runs/log-inputs`: a dataset with its digest, tagged with its context (training, eval...). */
  async logInputs(runId: string, datasets: DatasetInput[]): Promise<void> {
    await this.request("POST", "runs/log-inputs", EmptyResponse, {
      run_id: runId,
      datasets: datasets.map((d) => ({
        tags: d.context ? [{ key: "mlflow.data.context", value: d.context }] : [],
        dataset: {
          name: d.name,
          digest: d.digest.slice(0, MLFLOW_LIMITS.datasetDigestLength),
          source_type: d.sourceType,
          source: d.source,
          ...(d.schema !== undefined ? { schema: d.schema } : {}),
          ...(d.profile !== undefined ? { profile: d.profile } : {}),
        },
      })),
    });
  }

  /** Full history of one metric (pages through results). */
  async getMetricHistory(runId: string, key: string): Promise<Metric[]> {
    return allPages(async (pageToken) => {
      const r = await this.request("GET", "metrics/get-history", MetricHistoryResponse, undefined, {
        run_id: runId,
        metric_key: key,
        max_results: 25000,
        page_token: pageToken,
      });
      return [r.metrics, r.next_page_token];
    });
  }

  // ---- model registry (aliases, not stages) ------------------------------------------------

  async createRegisteredModel(name: string): Promise<void> {
    try {
      await this.request("POST", "registered-models/create", RegisteredModelResponse, { name });
    } catch (e) {
      if (!(e instanceof MlflowApiError && e.errorCode === "RESOURCE_ALREADY_EXISTS")) throw e;
    }
  }

  async createModelVersion(name: string, source: string, runId?: string): Promise<ModelVersion> {
    const r = await this.request("POST", "model-versions/create", ModelVersionResponse, {
      name,
      source,
      ...(runId ? { run_id: runId } : {}),
    });
    return r.model_version;
  }

  async searchModelVersions(filter: string): Promise<ModelVersion[]> {
    return allPages(async (pageToken) => {
      const r = await this.request("GET", "model-versions/search", SearchModelVersionsResponse, undefined, {
        filter,
        max_results: 200,
        page_token: pageToken,
      });
      return [r.model_versions, r.next_page_token];
    });
  }

  async setModelAlias(name: string, alias: string, version: string): Promise<void> {
    await this.request("POST", "registered-models/alias", EmptyResponse, { name, alias, version });
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    const r = await this.request("GET", "registered-models/alias", ModelVersionResponse, undefined, {
      name,
      alias,
    });
    return r.model_version;
  }

  // ---- artifacts through the server's proxy (mlflow-artifacts) ------------------------------

  /** Path of a run artifact under the proxy, from the run's `mlflow-artifacts:/...` artifact URI. */
  static proxyPath(artifactUri: string, artifactPath: string): string {
    const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/?(.*)$/.exec(artifactUri);
    if (!m) throw new RouterlabError(`not an mlflow-artifacts URI: ${artifactUri}`);
    return [m[1]!.replace(/\/+$/, ""), artifactPath.replace(/^\/+/, "")]
      .filter((s) => s.length > 0)
      .join("/");
  }

  private artifactUrl(proxyPath: string): string {
    return `${this.baseUrl}/api/2.0/mlflow-artifacts/artifacts/${proxyPath.split("/").map(encodeURIComponent).join("/")}`;
  }

  /** Streams a local file to the artifact proxy with a PUT. */
  async uploadArtifactViaProxy(localFile: string, proxyPath: string, contentType?: string): Promise<void> {
    const size = statSync(localFile).size;
    let res: Response;
    try {
      res = await fetch(this.artifactUrl(proxyPath), {
        method: "PUT",
        headers: {
          ...this.headers,
          "content-length": String(size),
          "content-type": contentType ?? "application/octet-stream",
        },
        body: Readable.toWeb(createReadStream(localFile)) as ReadableStream<Uint8Array>,
        duplex: "half",
        signal: AbortSignal.timeout(Math.max(this.timeoutMs, 600_000)),
      } as RequestInit & { duplex: "half" });
    } catch (e) {
      throw new MlflowUnavailableError(this.displayUrl, describeFetchError(e));
    }
    const text = await res.text();
    if (!res.ok) throw apiError(`mlflow-artifacts PUT ${proxyPath}`, res.status, text);
  }

  /** Downloads an artifact from the proxy as a web stream. */
  async downloadArtifactViaProxy(proxyPath: string): Promise<ReadableStream<Uint8Array>> {
    let res: Response;
    try {
      res = await fetch(this.artifactUrl(proxyPath), {
        headers: this.headers,
        signal: AbortSignal.timeout(Math.max(this.timeoutMs, 600_000)),
      });
    } catch (e) {
      throw new MlflowUnavailableError(this.displayUrl, describeFetchError(e));
    }
    if (!res.ok || !res.body)
      throw apiError(`mlflow-artifacts GET ${proxyPath}`, res.status, await res.text());
    return res.body;
  }

  /** `artifacts/list` for a run (works for any artifact store the server can see). */
  async listArtifacts(runId: string, path?: string): Promise<FileInfo[]> {
    const r = await this.request("GET", "artifacts/list", ListArtifactsResponse, undefined, {
      run_id: runId,
      path,
    });
    return r.files;
  }
}

/** Splits metrics/params/tags into `log-batch` calls within MLflow's limits. */
export function splitBatch(batch: {
  metrics?: MlflowMetricInput[];
  params?: Record<string, string>;
  tags?: Record<string, string>;
}): { metrics?: MlflowMetricInput[]; params?: Record<string, string>; tags?: Record<string, string> }[] {
  const calls: {
    metrics?: MlflowMetricInput[];
    params?: Record<string, string>;
    tags?: Record<string, string>;
  }[] = [];
  const params = Object.entries(batch.params ?? {});
  const tags = Object.entries(batch.tags ?? {});
  for (let i = 0; i < Math.max(params.length, tags.length); i += MLFLOW_LIMITS.paramsPerBatch) {
    calls.push({
      params: Object.fromEntries(params.slice(i, i + MLFLOW_LIMITS.paramsPerBatch)),
      tags: Object.fromEntries(tags.slice(i, i + MLFLOW_LIMITS.tagsPerBatch)),
    });
  }
  const metrics = batch.metrics ?? [];
  for (let i = 0; i < metrics.length; i += MLFLOW_LIMITS.metricsPerBatch) {
    calls.push({ metrics: metrics.slice(i, i + MLFLOW_LIMITS.metricsPerBatch) });
  }
  return calls;
}

function apiError(endpoint: string, status: number, text: string): MlflowApiError {
  let code = `HTTP_${status}`;
  let detail = text.slice(0, 500);
  try {
    const body = MlflowErrorBody.safeParse(JSON.parse(text));
    if (body.success) {
      code = body.data.error_code;
      detail = body.data.message;
    }
  } catch {
    // not JSON: keep the raw text
  }
  return new MlflowApiError(endpoint, status, code, redactString(detail));
}

export function describeFetchError(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as Error & { cause?: unknown }).cause;
    const code = cause && typeof cause === "object" && "code" in cause ? String(cause.code) : undefined;
    return redactString(code ? `${e.message} (${code})` : e.message);
  }
  return String(e);
}
