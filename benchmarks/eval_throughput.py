"""Generation throughput of followkit's backends against their anchors, in one run on one machine.

(a) hf backend (embedded SmolLM2, batched, our KV-cached decode loop) against lm-eval-harness's
    `hf` model (HFLM.generate_until on the same local folder, same chat-templated prompts, greedy,
    same max tokens): output tokens per second, and strict accuracy of both outputs on IFEval.
(b) openai backend against a plain asyncio httpx client at the same concurrency, both against
    one llama.cpp server serving the same SmolLM2 GGUF: requests per second.

    .venv/bin/python benchmarks/eval_throughput.py [--prompts 64] [--max-tokens 128]
        [--batch-size 16] [--anchor-batch-size 1] [--requests 48] [--concurrency 4] [--threads N]

The anchor runs at lm-eval's default batch size (1, what `lm_eval --model hf` does unless told
otherwise); pass --anchor-batch-size 16 to compare at equal batch size. Ratios are printed last.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the anchor must not reach for a hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(
    0, str(Path(__file__).resolve().parents[1] / "tests" / "helpers")
)  # the llama.cpp server launcher

from followkit.backends import SamplingParams, load_backend  # noqa: E402
from followkit.core.paths import shared_data  # noqa: E402
from followkit.models import embedded_dir, embedded_gguf  # noqa: E402


def ifeval_rows(n: int) -> list[dict]:
    """The first n IFEval rows from ../shared/data/ifeval/input_data.jsonl."""
    data = shared_data()
    if data is None:
        sys.exit("../shared/data is missing: this benchmark reads its IFEval prompts")
    rows = [json.loads(line) for line in (data / "ifeval" / "input_data.jsonl").open(encoding="utf-8")]
    return rows[:n]


def strict_accuracy(rows: list[dict], responses: list[str]) -> float:
    """IFEval strict prompt-level accuracy of the responses."""
    from followkit.constraints.verify import check_all

    ok = 0
    for row, resp in zip(rows, responses, strict=True):
        cons = [
            (i, {k: v for k, v in (kw or {}).items() if v is not None})
            for i, kw in zip(row["instruction_id_list"], row["kwargs"], strict=True)
        ]
        ok += all(check_all(cons, resp, "strict", row["prompt"]))
    return ok / len(rows)


def bench_hf(rows: list[dict], max_tokens: int, batch_size: int, anchor_batch_size: int) -> dict:
    import torch
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    chats = [[{"role": "user", "content": r["prompt"]}] for r in rows]
    ours = load_backend("embedded", cache=False, batch_size=batch_size)
    tok = ours.tok
    prompts = [ours.render(c) for c in chats]
    count = lambda texts: sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts)  # noqa: E731

    ours.generate(chats[:2], SamplingParams(max_tokens=4))  # warm-up (allocator, kernels)
    t0 = time.perf_counter()
    ours_out = [t[0] for t in ours.generate(chats, SamplingParams(max_tokens=max_tokens))]
    ours_s = time.perf_counter() - t0

    anchor = HFLM(
        pretrained=str(embedded_dir()), device="cpu", batch_size=anchor_batch_size, dtype=torch.float32
    )
    gen = {"until": [], "max_gen_toks": max_tokens, "do_sample": False, "temperature": 0.0}
    reqs = [Instance("generate_until", {}, (p, dict(gen)), i) for i, p in enumerate(prompts)]
    anchor.generate_until(reqs[:2][:1])  # warm-up
    t0 = time.perf_counter()
    anchor_out = anchor.generate_until(reqs)
    anchor_s = time.perf_counter() - t0

    same = sum(a.strip() == b.strip() for a, b in zip(ours_out, anchor_out, strict=True))
    return {
        "ours_tokens": count(ours_out),
        "ours_s": ours_s,
        "anchor_tokens": count(anchor_out),
        "anchor_s": anchor_s,
        "identical_outputs": same,
        "ours_acc": strict_accuracy(rows, ours_out),
        "anchor_acc": strict_accuracy(rows, anchor_out),
    }


async def plain_client(base: str, chats: list, max_tokens: int, concurrency: int) -> list[str]:
    """The anchor: what anyone writes with httpx and asyncio, no retries or caching."""
    import httpx

    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:

        async def one(chat: list) -> str:
            body = {
                "model": "smol",
                "messages": chat,
                "temperature": 0.0,
                "max_tokens": max_tokens,
                "seed": 0,
            }
            async with sem:
                r = await client.post(f"{base}/chat/completions", json=body)
            return r.json()["choices"][0]["message"]["content"]

        return await asyncio.gather(*(one(c) for c in chats))


def bench_openai(rows: list[dict], n_requests: int, max_tokens: int, concurrency: int) -> dict:
    from fault_proxy import llama_server

    chats = [[{"role": "user", "content": rows[i % len(rows)]["prompt"]}] for i in range(n_requests)]
    times = {"ours": 0.0, "plain": 0.0}
    with llama_server(embedded_gguf()) as base:
        ours = load_backend("openai:smol", base_url=base, cache=False, max_concurrency=concurrency)
        asyncio.run(plain_client(base, chats[:2], 4, concurrency))  # warm-up
        params = SamplingParams(max_tokens=max_tokens)
        # ABBA order, so that drift in machine load falls on both sides alike.
        for who in ("plain", "ours", "ours", "plain"):
            t0 = time.perf_counter()
            if who == "plain":
                asyncio.run(plain_client(base, chats, max_tokens, concurrency))
            else:
                out = ours.complete(chats, params)
                assert all(c.ok for c in out), [c.error for c in out if not c.ok][:3]
            times[who] += time.perf_counter() - t0
    return {"ours_rps": 2 * n_requests / times["ours"], "plain_rps": 2 * n_requests / times["plain"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--anchor-batch-size", type=int, default=1)
    ap.add_argument("--requests", type=int, default=48)
    ap.add_argument("--server-max-tokens", type=int, default=32)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--skip", choices=["hf", "openai"], default=None)
    ap.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads for both sides (default: torch's)"
    )
    a = ap.parse_args()
    if a.threads:
        import torch

        # On an oversubscribed machine OpenMP's spinning threads can cost 10x; both sides get the same setting.
        torch.set_num_threads(a.threads)
    rows = ifeval_rows(a.prompts)
    hf = bench_hf(rows, a.max_tokens, a.batch_size, a.anchor_batch_size) if a.skip != "hf" else None
    oa = bench_openai(rows, a.requests, a.server_max_tokens, a.concurrency) if a.skip != "openai" else None

    import torch

    print(
        f"data: {len(rows)} IFEval prompts (greedy, max {a.max_tokens} new tokens), embedded SmolLM2-135M, "
        f"CPU, {torch.get_num_threads()} torch thread(s)"
    )
    if hf:
        ours_tps, anchor_tps = hf["ours_tokens"] / hf["ours_s"], hf["anchor_tokens"] / hf["anchor_s"]
        print(
            f"(a) followkit hf backend, batch {a.batch_size}: {hf['ours_tokens']} tokens in {hf['ours_s']:.1f} s = {ours_tps:.1f} tok/s"
        )
        print(
            f"    lm-eval HFLM generate_until, batch {a.anchor_batch_size}: {hf['anchor_tokens']} tokens in {hf['anchor_s']:.1f} s = {anchor_tps:.1f} tok/s"
        )
        print(f"    identical outputs: {hf['identical_outputs']}/{len(rows)}")
        print(
            f"    IFEval strict prompt accuracy: followkit {hf['ours_acc']:.3f}, lm-eval {hf['anchor_acc']:.3f}"
        )
    if oa:
        print(
            f"(b) {a.requests} requests x2 (max {a.server_max_tokens} tokens, concurrency {a.concurrency}) on llama.cpp's server"
        )
        print(
            f"    followkit openai backend: {oa['ours_rps']:.2f} req/s; plain asyncio httpx: {oa['plain_rps']:.2f} req/s"
        )
    if hf:
        print(
            f"ratio (a) hf backend / lm-eval hf, output tokens/s: {ours_tps / anchor_tps:.2f}x (target >= 2)"
        )
    if oa:
        print(
            f"ratio (b) openai backend / plain client, requests/s: {oa['ours_rps'] / oa['plain_rps']:.1%} (target >= 95%)"
        )


if __name__ == "__main__":
    main()
