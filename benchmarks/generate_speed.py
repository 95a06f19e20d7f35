"""Generation speed of the embedded default against plain transformers and llama.cpp, on the same cores.

Same prompts, greedy, same max new tokens, the same number of CPU threads for every engine:
(1) followkit's hf backend as `eval` and `respond` run it by default in the pipeline (--dtype auto:
    bfloat16 where the CPU multiplies it natively), batch 16;
(2) the same backend in float32 (the backend's own default);
(3) plain batched `transformers.generate` (float32, left-padded batches of 16, length-sorted);
(4) llama.cpp's server (llama-cpp-python) on the package's GGUF, requests sent 16 at a time.
Prints output tokens per second of each, and the ratio (1) / (4) last.

    .venv/bin/python benchmarks/generate_speed.py [--prompts 48] [--max-tokens 128] [--threads 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(
    0, str(Path(__file__).resolve().parents[1] / "tests" / "helpers")
)  # the llama.cpp server launcher


def prompts(n: int) -> tuple[str, list[str]]:
    """IFEval prompts from ../shared/data when present, else followkit-bench's English prompts."""
    from followkit.core.paths import shared_data

    data = shared_data()
    if data is not None and (data / "ifeval" / "input_data.jsonl").exists():
        rows = [json.loads(x) for x in (data / "ifeval" / "input_data.jsonl").open(encoding="utf-8")]
        return "IFEval", [r["prompt"] for r in rows[:n]]
    from followkit.synth.bench import bench_instructions

    return "followkit-bench (English)", [i.prompt for i in bench_instructions() if i.language == "en"][:n]


def followkit_hf(chats: list, max_tokens: int, dtype: str) -> tuple[int, float]:
    from followkit.backends import SamplingParams
    from followkit.backends.hf import EmbeddedBackend

    b = EmbeddedBackend(dtype=dtype, batch_size=16)
    b.generate(chats[:2], SamplingParams(max_tokens=4))  # warm-up
    t0 = time.perf_counter()
    out = [t[0] for t in b.generate(chats, SamplingParams(max_tokens=max_tokens))]
    dt = time.perf_counter() - t0
    return sum(len(b.tok(o, add_special_tokens=False)["input_ids"]) for o in out), dt


def plain_transformers(chats: list, max_tokens: int) -> tuple[int, float]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from followkit.models import embedded_dir

    tok = AutoTokenizer.from_pretrained(embedded_dir())
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(embedded_dir(), dtype=torch.float32).eval()
    texts = [tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in chats]
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    n_tokens, t0 = 0, time.perf_counter()
    with torch.inference_mode():
        for s in range(0, len(order), 16):
            batch = [texts[i] for i in order[s : s + 16]]
            enc = tok(batch, return_tensors="pt", padding=True, add_special_tokens=False)
            gen = model.generate(
                **enc,
                max_new_tokens=max_tokens,
                do_sample=False,
                pad_token_id=tok.pad_token_id or tok.eos_token_id,
            )
            for row in gen[:, enc["input_ids"].shape[1] :]:
                ids = [t for t in row.tolist() if t not in (tok.pad_token_id, tok.eos_token_id)]
                n_tokens += len(ids)
    return n_tokens, time.perf_counter() - t0


def llama_cpp(chats: list, max_tokens: int, threads: int) -> tuple[int, float]:
    import httpx
    from fault_proxy import llama_server

    from followkit.models import embedded_gguf

    async def run(base: str) -> list[int]:
        sem = asyncio.Semaphore(16)
        async with httpx.AsyncClient(timeout=600) as client:

            async def one(chat: list) -> int:
                body = {"model": "smol", "messages": chat, "temperature": 0.0, "max_tokens": max_tokens}
                async with sem:
                    r = await client.post(f"{base}/chat/completions", json=body)
                return int(r.json()["usage"]["completion_tokens"])

            return await asyncio.gather(*(one(c) for c in chats))

    with llama_server(embedded_gguf(), n_threads=threads) as base:
        asyncio.run(_warm(base))
        t0 = time.perf_counter()
        counts = asyncio.run(run(base))
        return sum(counts), time.perf_counter() - t0


async def _warm(base: str) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=120) as client:
        body = {"model": "smol", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
        await client.post(f"{base}/chat/completions", json=body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=48)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1, help="CPU threads for every engine")
    ap.add_argument("--skip-llama", action="store_true", help="leave out llama.cpp (no [server] extra)")
    a = ap.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    from followkit.backends.hf import cpu_has_fast_bf16

    source, texts = prompts(a.prompts)
    chats = [[{"role": "user", "content": t}] for t in texts]
    rows = [
        (
            "followkit hf, dtype auto" + (" (bfloat16)" if cpu_has_fast_bf16() else " (float32)"),
            followkit_hf(chats, a.max_tokens, "auto"),
        ),
        ("followkit hf, float32", followkit_hf(chats, a.max_tokens, "float32")),
        ("transformers.generate, float32, batch 16", plain_transformers(chats, a.max_tokens)),
    ]
    if not a.skip_llama:
        rows.append(
            ("llama.cpp server (GGUF Q4_1), 16 requests at a time", llama_cpp(chats, a.max_tokens, a.threads))
        )
    print(
        f"data: {len(chats)} {source} prompts, greedy, max {a.max_tokens} new tokens, {a.threads} CPU thread(s)"
    )
    for name, (n, dt) in rows:
        print(f"  {name}: {n} tokens in {dt:.1f} s = {n / dt:.1f} tok/s")
    ours = rows[0][1][0] / rows[0][1][1]
    plain = rows[2][1][0] / rows[2][1][1]
    print(f"ratio followkit (auto) / transformers.generate: {ours / plain:.2f}x")
    if not a.skip_llama:
        llama = rows[3][1][0] / rows[3][1][1]
        print(f"ratio followkit (auto) / llama.cpp server, output tokens/s: {ours / llama:.2f}x (goal >= 1)")


if __name__ == "__main__":
    main()
