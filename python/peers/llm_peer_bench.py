"""The llm benchmark's peer: the official `openai` package (AsyncOpenAI) against routerlab's local simulator.

Reads {"base_url", "model", "n", "concurrency", "prefix", "http_client"} as JSON on stdin (http_client: "httpx", the
package's default, or "aiohttp", its DefaultAioHttpClient, which the package documents for high concurrency); sends n distinct chat completions with
at most `concurrency` in flight (asyncio semaphore, max_retries=0, like routerlab's client, which retries itself);
prints {"seconds", "cpu_seconds", "requests", "errors", "openai"} as JSON (cpu_seconds: this process's CPU time).
"""
import asyncio
import json
import sys
import time

import openai
from openai import AsyncOpenAI, DefaultAioHttpClient


async def main() -> None:
    args = json.load(sys.stdin)
    n, conc = int(args["n"]), int(args["concurrency"])
    http_client = args.get("http_client", "httpx")
    if http_client not in ("httpx", "aiohttp"):
        raise SystemExit(f"http_client must be 'httpx' or 'aiohttp', not {http_client!r}")
    client = AsyncOpenAI(
        base_url=args["base_url"],
        api_key="not-needed",
        max_retries=0,
        timeout=60,
        **({"http_client": DefaultAioHttpClient()} if http_client == "aiohttp" else {}),
    )
    sem = asyncio.Semaphore(conc)
    errors = 0

    async def one(i: int) -> None:
        nonlocal errors
        async with sem:
            try:
                r = await client.chat.completions.create(
                    model=args["model"],
                    messages=[{"role": "user", "content": f"{args['prefix']} request {i}"}],
                    temperature=0,
                    max_tokens=64,
                )
                if not r.choices:
                    errors += 1
            except Exception:  # noqa: BLE001 - counted, reported
                errors += 1

    await one(-1)  # connection warm-up, not timed
    t0, c0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(i) for i in range(n)))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    await client.close()
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "requests": n, "errors": errors, "openai": openai.__version__}))


asyncio.run(main())
