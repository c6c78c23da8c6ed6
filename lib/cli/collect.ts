import type { Command } from "commander";
import { CollectOptions, formatCounts, MB, openCollector } from "../collect/open";
import { DEFAULT_LIMITS } from "../collect/server";
import { untilStopSignal } from "../util/signals";
import { parseOptions } from "./options";

async function runCollect(raw: unknown): Promise<void> {
  const o = parseOptions(CollectOptions, raw);
  const { server, store, token, loopback } = await openCollector(o);
  if (!loopback)
    process.stderr.write(
      [
        "",
        "!!! routerlab collect is listening on a NON-LOOPBACK address: " + server.url,
        "!!! anyone who can reach it and knows the bearer token can add traffic to " + store.dir,
        "!!! requests without the token get 401; use TLS in front of it on untrusted networks",
        "",
      ].join("\n"),
    );
  const prev = store.totals();
  process.stdout.write(
    [
      `routerlab collect: listening on ${server.url}/v1/traces (OTLP/HTTP, protobuf or JSON, gzip/deflate)`,
      `  dataset: ${store.dir}` + (prev.spans > 0 ? ` (already holds ${prev.spans} spans)` : ""),
      ...(store.recovery.truncatedBytes > 0
        ? [
            `  recovered: cut ${store.recovery.truncatedBytes} bytes of unacknowledged records left by a killed run`,
          ]
        : []),
      `  auth: ${token ? `bearer token from $${o.tokenEnv}` : "none (loopback only)"}`,
      `  gateway: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=${server.url}/v1/traces, with prompt content capture on (docs/production-loop.md)`,
      "  stop with Ctrl-C (SIGINT) or SIGTERM",
      "",
    ].join("\n"),
  );
  let warnedNoPrompt = false;
  let lastSpans = -1;
  const report = () => {
    const s = server.stats();
    if (s.counts.spans === lastSpans) return;
    lastSpans = s.counts.spans;
    const refused = Object.entries(s.refused)
      .map(([k, v]) => `${v}x${k}`)
      .join(" ");
    process.stdout.write(
      `routerlab collect: ${s.requestsAccepted} requests, ${formatCounts(s.counts)}${refused ? `; refused ${refused}` : ""}\n`,
    );
    if (!warnedNoPrompt && s.counts.llm_no_prompt > 0) {
      warnedNoPrompt = true;
      process.stderr.write(
        "routerlab collect: warning: LLM spans arrive WITHOUT prompt content; they are kept and counted but cannot become " +
          "training rows. Turn on message content capture in the gateway (docs/production-loop.md)\n",
      );
    }
  };
  const timer = setInterval(report, o.reportSeconds * 1000);
  await untilStopSignal("routerlab collect");
  clearInterval(timer);
  await server.close();
  await store.close();
  const s = server.stats();
  process.stdout.write(
    `routerlab collect: stopped. This run: ${s.requestsAccepted} requests, ${formatCounts(s.counts)}\n` +
      `  dataset total: ${formatCounts(store.totals())}\n`,
  );
}

export function registerCollectCommands(program: Command): void {
  program
    .command("collect")
    .description(
      "Receive the gateway's OpenTelemetry traces (OTLP/HTTP POST /v1/traces, protobuf or JSON, gzip) and append " +
        "LLM spans (query text as the gateway builds it) and routeiq.router_decision.v1 events crash-safely to a " +
        "dataset folder: every request is fsynced before it is acknowledged. Loopback only unless a bearer token is " +
        "set. Runs until SIGINT/SIGTERM",
    )
    .requiredOption("--out <dir>", "dataset folder (created; segment-*.jsonl, index.json)")
    .option("--host <host>", "interface to listen on; any non-loopback address needs a token", "127.0.0.1")
    .option("--port <n>", "port; 0 picks a free one (4318 is the OTLP/HTTP default)", "4318")
    .option(
      "--token-env <name>",
      "environment variable holding the bearer token clients must send",
      "ROUTERLAB_COLLECT_TOKEN",
    )
    .option("--segment-mb <n>", "rotate segment files at this size", "64")
    .option(
      "--max-body-mb <n>",
      "largest request body accepted, as sent (413 beyond)",
      String(DEFAULT_LIMITS.maxBodyBytes / MB),
    )
    .option(
      "--max-decoded-mb <n>",
      "largest body after decompression (413 beyond; inflation stops there)",
      String(DEFAULT_LIMITS.maxDecodedBytes / MB),
    )
    .option(
      "--max-inflight-mb <n>",
      "memory for requests in progress; beyond it clients get 503 + Retry-After",
      String(DEFAULT_LIMITS.maxInflightBytes / MB),
    )
    .option("--report-seconds <n>", "print the counts this often while traffic arrives", "10")
    .action(runCollect);
}
