import { MlflowClient } from "../tracking/client";
import type { Registry } from "./s3-store";

/**
 * The MLflow model registry side of promotion: each promoted version is registered (source = its immutable S3
 * folder), gets alias `champion`, the one it replaced keeps alias `previous`, and the audit record is set as tags.
 */
export class MlflowRegistry implements Registry {
  constructor(readonly client: MlflowClient) {}

  static fromUri(uri: string): MlflowRegistry {
    return new MlflowRegistry(new MlflowClient(uri));
  }

  async register(modelName: string, source: string, runId: string | undefined): Promise<string> {
    await this.client.createRegisteredModel(modelName);
    const existing = await this.findVersionBySource(modelName, source);
    if (existing) return existing;
    const v = await this.client.createModelVersion(modelName, source, runId);
    return v.version;
  }

  async setAliases(modelName: string, champion: string, previous: string | null): Promise<void> {
    if (previous && previous !== champion) await this.client.setModelAlias(modelName, "previous", previous);
    await this.client.setModelAlias(modelName, "champion", champion);
  }

  async tag(modelName: string, version: string, tags: Record<string, string>): Promise<void> {
    for (const [key, value] of Object.entries(tags)) {
      const res = await fetch(`${this.client.baseUrl}/api/2.0/mlflow/model-versions/set-tag`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: modelName, version, key, value: value.slice(0, 5000) }),
      });
      if (!res.ok)
        throw new Error(
          `MLflow set-tag ${key} failed: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`,
        );
    }
  }

  async findVersionBySource(modelName: string, source: string): Promise<string | null> {
    const all = await this.client.searchModelVersions(`name='${modelName.replace(/'/g, "\\'")}'`);
    const hit = all
      .filter((v) => v.source === source)
      .sort((a, b) => Number(a.version) - Number(b.version))[0];
    return hit?.version ?? null;
  }
}
