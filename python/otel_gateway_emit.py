"""Emits gateway-shaped traces through the real OpenTelemetry Python SDK to an OTLP/HTTP receiver.

Each trace is what the RouteIQ gateway (LiteLLM + RouteIQ) writes for one routed chat request:
  "Received Proxy Server Request" (root, no gen_ai attributes)
  "llm.routing.decision" with the routeiq.router_decision.v1 event (payload JSON, contract section 12)
  "litellm_request" with gen_ai.* attributes: indexed prompt messages and the completion (LiteLLM's
  OpenTelemetry logger form), or no prompt content at all every --no-prompt-every traces.

Spans are recorded by the SDK tracer, then exported in batches of --batch:
  --encoding proto: OTLPSpanExporter (opentelemetry-exporter-otlp-proto-http), the exporter the gateway uses;
  --encoding json:  the SDK's own OTLP encoder (encode_spans), written in the OTLP/JSON mapping (hex ids,
                    integer enums), POSTed with requests (the Python SDK ships no JSON HTTP exporter).
With --write-body the spans are encoded into one protobuf request body and written to a file instead (benchmarks).
Each acknowledged batch is appended to --acks (one JSON line: span count, LLM span ids, decision event ids,
spans without prompt) and flushed, so a test can check that nothing acknowledged is lost.
"""

import argparse
import gzip
import json
import random
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

MODELS = ["openai/gpt-4o-mini", "openai/gpt-4o"]


def decision_payload(rng, trace_id, span_id, i, selected, variant):
    return {
        "contract_version": "v1",
        "contract_name": "routeiq.router_decision.v1",
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_span_id": None,
        "timestamp_utc": "2026-11-20T10:15:02.000Z",
        "timestamp_unix_ms": 1763633702000 + i * 1000,
        "input": {"requested_model": "auto", "query_length": 40, "user_id": None, "team_id": None,
                  "api_type": "chat", "request_metadata": {}},
        "strategy_name": "llmrouter-mlp",
        "strategy_version": None,
        "candidate_deployments": [
            {"model_name": m, "provider": "openai", "score": round(rng.random(), 4), "available": True} for m in MODELS
        ],
        "selected_deployment": selected,
        "selection_reason": "strategy_prediction",
        "experiment": {"experiment_id": "exp-1" if variant else None, "variant": variant, "strategy_name": None,
                       "strategy_version": None, "weight": None, "total_weight": None, "hash_bucket": None,
                       "hash_key_type": None},
        "timings": {"total_ms": 12.0, "strategy_ms": 3.0, "embedding_ms": 8.0, "candidate_filter_ms": None},
        "outcome": {"status": "success", "error_message": None, "error_type": None, "input_tokens": None,
                    "output_tokens": None, "total_tokens": None, "api_type": "chat"},
        "fallback": {"fallback_triggered": False, "original_model": None, "fallback_reason": None,
                     "fallback_attempt": 0},
        "custom_attributes": {},
    }


def record_traces(n, seed, no_prompt_every):
    rng = random.Random(seed)
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "routeiq-gateway"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("routeiq", "1.4.0")
    for i in range(n):
        selected = MODELS[rng.randrange(2)]
        variant = ["control", "treatment"][i % 2]
        with tracer.start_as_current_span("Received Proxy Server Request"):
            with tracer.start_as_current_span("llm.routing.decision") as d:
                ctx = d.get_span_context()
                tid, sid = format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
                d.set_attribute("router.strategy_version", "mlp-2026-11-19")
                payload = decision_payload(rng, tid, sid, i, selected, variant)
                d.add_event("routeiq.router_decision.v1", {"routeiq.router_decision.payload": json.dumps(payload)})
            with tracer.start_as_current_span("litellm_request") as s:
                s.set_attribute("gen_ai.system", "openai")
                s.set_attribute("gen_ai.request.model", selected)
                s.set_attribute("gen_ai.response.model", selected + "-2024-08-06")
                s.set_attribute("gen_ai.usage.input_tokens", 20 + i % 7)
                s.set_attribute("gen_ai.usage.output_tokens", 5 + i % 11)
                if no_prompt_every <= 0 or (i + 1) % no_prompt_every != 0:
                    s.set_attribute("gen_ai.prompt.0.role", "system")
                    s.set_attribute("gen_ai.prompt.0.content", "You are a helpful assistant.")
                    s.set_attribute("gen_ai.prompt.1.role", "user")
                    s.set_attribute("gen_ai.prompt.1.content", f"  Question {i}: what is {i} plus {i % 13}?  ")
                    s.set_attribute("gen_ai.completion.0.role", "assistant")
                    s.set_attribute("gen_ai.completion.0.content", f"{i + i % 13}")
                s.set_status(Status(StatusCode.OK))
    provider.shutdown()
    return memory.get_finished_spans()


def describe(batch):
    llm, events, no_prompt = [], [], 0
    for s in batch:
        attrs = s.attributes or {}
        if "gen_ai.request.model" in attrs:
            llm.append(format(s.context.span_id, "016x"))
            if "gen_ai.prompt.0.content" not in attrs:
                no_prompt += 1
        for e in s.events:
            if e.name == "routeiq.router_decision.v1":
                events.append(json.loads(e.attributes["routeiq.router_decision.payload"])["event_id"])
    return {"spans": len(batch), "llm": llm, "events": events, "no_prompt": no_prompt}


def hex_ids(obj):
    """OTLP/JSON writes trace and span ids as hex, where the protobuf JSON mapping writes base64."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str):
                import base64

                out[k] = base64.b64decode(v).hex()
            else:
                out[k] = hex_ids(v)
        return out
    if isinstance(obj, list):
        return [hex_ids(x) for x in obj]
    return obj


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--encoding", choices=["proto", "json"], default="proto")
    ap.add_argument("--gzip", action="store_true")
    ap.add_argument("--traces", type=int, default=100)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-prompt-every", type=int, default=0)
    ap.add_argument("--token", default=None)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--acks")
    ap.add_argument("--write-body", help="write one protobuf ExportTraceServiceRequest of all spans here; send nothing")
    a = ap.parse_args()

    spans = record_traces(a.traces, a.seed, a.no_prompt_every)
    if a.write_body:
        with open(a.write_body, "wb") as f:
            f.write(encode_spans(spans).SerializeToString())
        json.dump({"spans": len(spans)}, sys.stdout)
        sys.stdout.write("\n")
        return
    if not a.acks:
        ap.error("--acks is required when sending")
    batches = [spans[i : i + a.batch] for i in range(0, len(spans), a.batch)]
    headers = {"Authorization": f"Bearer {a.token}"} if a.token else {}
    lock = threading.Lock()
    local = threading.local()
    results = {"ok": 0, "failed": 0}
    acks = open(a.acks, "a", encoding="utf-8")

    def send(batch):
        if a.encoding == "proto":
            if not hasattr(local, "exporter"):
                local.exporter = OTLPSpanExporter(
                    endpoint=a.endpoint, headers=headers, timeout=a.timeout,
                    compression=Compression.Gzip if a.gzip else Compression.NoCompression,
                )
            ok = local.exporter.export(batch) == SpanExportResult.SUCCESS
        else:
            doc = hex_ids(MessageToDict(encode_spans(batch), use_integers_for_enums=True))
            body = json.dumps(doc).encode("utf-8")
            h = {"Content-Type": "application/json", **headers}
            if a.gzip:
                body = gzip.compress(body)
                h["Content-Encoding"] = "gzip"
            try:
                ok = requests.post(a.endpoint, data=body, headers=h, timeout=a.timeout).status_code == 200
            except requests.RequestException:
                ok = False
        with lock:
            if ok:
                results["ok"] += 1
                acks.write(json.dumps(describe(batch)) + "\n")
                acks.flush()
            else:
                results["failed"] += 1

    with ThreadPoolExecutor(max_workers=a.threads) as pool:
        list(pool.map(send, batches))
    acks.close()
    json.dump({"spans": len(spans), "batches": len(batches), **results}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
