/** Files the tests write for routerlab's sim server. */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/** USD per million tokens. */
export interface SimPrice {
  readonly input: number;
  readonly output: number;
}

/**
 * Writes `dir/models.yaml` (making `dir`) with one simulated model per entry of `prices` at `baseUrl`, and
 * `roles` (role -> model name); with `apiKeyEnv` every model sends the key from that variable. Returns the path.
 */
export function writeSimModelsFile(
  dir: string,
  baseUrl: string,
  prices: Readonly<Record<string, SimPrice>>,
  roles: Readonly<Record<string, string>>,
  apiKeyEnv?: string,
): string {
  const lines = ["models:"];
  for (const [name, p] of Object.entries(prices)) {
    lines.push(
      `  - name: ${name}`,
      `    baseUrl: ${baseUrl}`,
      `    modelId: ${name}`,
      ...(apiKeyEnv ? [`    apiKeyEnv: ${apiKeyEnv}`] : []),
      `    inputPricePerMTok: ${p.input}`,
      `    outputPricePerMTok: ${p.output}`,
      `    limits: { concurrency: 32 }`,
      `    timeoutMs: 5000`,
      `    maxRetries: 12`,
      `    simulated: true`,
    );
  }
  const roleList = Object.entries(roles).map(([role, model]) => `${role}: ${model}`);
  lines.push(`roles: { ${roleList.join(", ")} }`);
  mkdirSync(dir, { recursive: true });
  const f = path.join(dir, "models.yaml");
  writeFileSync(f, lines.join("\n") + "\n");
  return f;
}
