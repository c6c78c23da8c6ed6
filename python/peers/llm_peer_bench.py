"""The llm benchmark's peer: the official `openai` package (AsyncOpenAI) against routerlab's local simulator.

Reads {"base_url", "model", "n", "concurrency", "prefix"} as JSON on stdin; sends n distinct chat completions with
at most `concurrency` in flight (asyncio semaphore, max_retries=0, like routerlab's client, which retries itself);
prints {"seconds", "cpu_seconds", "requests", "errors"} as JSON (cpu_seconds: this process's CPU time).
"""
import asyncio
import json
import sys
import time

from openai import AsyncOpenAI


async def main() -> None:
    args = json.load(sys.stdin)
    n, conc = int(args["n"]), int(args["concurrency"])
    client = AsyncOpenAI(
        base_url=args["base_url"],
        api_key="not-needed",
        max_retries=0,
        timeout=60,
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
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "requests": n, "errors": errors}))


asyncio.run(main())
