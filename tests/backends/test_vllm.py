"""The vllm backend on a GPU: greedy output and log-probs agree with the hf backend (skipped without CUDA)."""

from __future__ import annotations

import importlib.util

import pytest

from followkit.backends import SamplingParams, load_backend


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.slow,
    pytest.mark.skipif(not _has_cuda(), reason="needs a CUDA GPU"),
    pytest.mark.skipif(
        importlib.util.find_spec("vllm") is None, reason="needs vllm (pip install 'followkit[vllm]')"
    ),
]


def test_vllm_agrees_with_hf_on_the_embedded_model():
    from followkit.models import embedded_dir

    chats = [[{"role": "user", "content": "List three prime numbers."}]]
    vl = load_backend(f"vllm:{embedded_dir()}", cache=False, dtype="float32")
    hf = load_backend("embedded", cache=False, device="cuda", dtype="float32")
    assert vl.generate(chats, SamplingParams(max_tokens=16)) == hf.generate(
        chats, SamplingParams(max_tokens=16)
    )
    pair = [(chats[0], "2, 3 and 5.")]
    assert vl.logprobs(pair)[0] == pytest.approx(hf.logprobs(pair)[0], abs=1e-2)
    sampled = vl.generate(chats, SamplingParams(n=2, temperature=1.0, seed=1, max_tokens=16))
    assert len(sampled[0]) == 2
