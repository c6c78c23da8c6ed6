/**
 * Child process for the SIGINT test (tests/llm/client-sim.test.ts): asks sim-weak every question given, with
 * Ctrl-C handling installed, printing `done <i>` per answer. Args: <sim url> <cache dir> <questions json>.
 */
import path from "node:path";
import { createLlmClient } from "../../lib/llm/client";
import { loadModelsConfig } from "../../lib/llm/config";
import { LlmError } from "../../lib/llm/retry";
import { abortOnSigint } from "../../lib/llm/signals";
import { projectRoot } from "../../lib/util/paths";

async function main(): Promise<void> {
  const [url, cacheDir, questionsJson] = process.argv.slice(2);
  const questions = JSON.parse(questionsJson!) as string[];
  const config = loadModelsConfig(path.join(projectRoot(), "configs", "models.yaml"), {
    env: { ...process.env, ROUTERLAB_SIM_URL: url },
    models: { "sim-weak": { apiKeyEnv: "SIM_TEST_KEY", limits: { concurrency: 4 } } },
  });
  const client = createLlmClient(config, { cacheDir, seed: 3 });
  abortOnSigint(client);
  await Promise.all(
    questions.map(async (q, i) => {
      await client.chat({ model: "sim-weak", messages: [{ role: "user", content: q }], temperature: 0 });
      process.stdout.write(`done ${i}\n`);
    }),
  );
  await client.close();
  process.stdout.write("finished\n");
}

main().catch((e: unknown) => {
  // After Ctrl-C the calls reject as cancelled; the handler flushes and exits 130.
  if (e instanceof LlmError && e.kind === "cancelled") return;
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
