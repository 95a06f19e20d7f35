"""The hf / embedded backend on the real SmolLM2: batched decoding, sampling seeds, stops, log-probs."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from followkit.backends import SamplingParams, load_backend
from followkit.backends.hf import folder_fingerprint, sample_seed

PROMPTS = [
    "Hi",
    "Write a haiku about autumn leaves falling on a quiet river.",
    "List three prime numbers.",
    "Explain in one sentence why the sky looks blue during the day, and mention the sun.",
]


def chat(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def backend():
    return load_backend("embedded", cache=False, batch_size=4)


def test_sample_seed_depends_on_request_not_position():
    assert sample_seed(1, 0, "p") == sample_seed(1, 0, "p")
    assert (
        len({sample_seed(1, 0, "p"), sample_seed(2, 0, "p"), sample_seed(1, 1, "p"), sample_seed(1, 0, "q")})
        == 4
    )


def test_fingerprint_follows_weights_not_folder_name(tmp_path: Path):
    a = tmp_path / "a"
    a.mkdir()
    (a / "config.json").write_text("{}")
    (a / "model.safetensors").write_bytes(b"x" * 10)
    before = folder_fingerprint(a, "tmpl")
    assert folder_fingerprint(a, "tmpl") == before
    assert folder_fingerprint(a, "other template") != before
    os.utime(a / "model.safetensors", ns=(1, 1))  # retrained in place: same size, new mtime
    assert folder_fingerprint(a, "tmpl") != before


@pytest.mark.slow
def test_greedy_equals_transformers_generate_one_by_one(backend):
    import torch

    got = backend.generate([chat(p) for p in PROMPTS], SamplingParams(max_tokens=16))
    for p, texts in zip(PROMPTS, got, strict=True):
        ids = backend.tok(backend.render(chat(p)), return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            ref = backend.model.generate(**ids, max_new_tokens=16, do_sample=False)
        assert texts == [backend.tok.decode(ref[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)]


@pytest.mark.slow
def test_outputs_do_not_depend_on_order_or_batch_size(backend):
    params = SamplingParams(max_tokens=12, n=2, temperature=0.9, seed=3)
    base = backend.generate([chat(p) for p in PROMPTS], params)
    backend.batch_size = 3
    try:
        reordered = backend.generate([chat(p) for p in PROMPTS[::-1]], params)[::-1]
        alone = backend.generate([chat(PROMPTS[1])], params)
    finally:
        backend.batch_size = 4
    assert reordered == base
    assert alone[0] == base[1]
    assert all(len(t) == 2 and t[0] != t[1] for t in base[1:])  # two real samples per chat
    other_seed = backend.generate(
        [chat(PROMPTS[1])], SamplingParams(max_tokens=12, n=2, temperature=0.9, seed=4)
    )
    assert other_seed[0] != base[1]


@pytest.mark.slow
def test_greedy_n_repeats_the_one_answer_and_stop_strings_cut(backend):
    [texts] = backend.generate([chat(PROMPTS[2])], SamplingParams(max_tokens=24, n=3))
    assert len(texts) == 3 and len(set(texts)) == 1
    full = texts[0]
    word = next(w for w in full.split() if len(w) > 3 and full.index(w) > 0)
    [[cut]] = backend.generate([chat(PROMPTS[2])], SamplingParams(max_tokens=24, stop=(word,)))
    assert cut == full[: full.index(word)]


@pytest.mark.slow
def test_overlong_prompt_fails_alone(backend):
    huge = "word " * (backend.max_positions + 10)
    out = backend.complete([chat(huge), chat(PROMPTS[0])], SamplingParams(max_tokens=4))
    assert not out[0].ok and "tokens; the model takes" in out[0].error
    assert out[1].ok and out[1].texts[0]


@pytest.mark.slow
def test_logprobs_equal_an_unbatched_forward(backend):
    import torch

    pairs = [
        (chat(PROMPTS[0]), "Hello! How are you?"),
        (chat(PROMPTS[3]), "Because of scattering."),
        (chat("x"), ""),
    ]
    got = backend.logprobs(pairs)
    assert got[2] == []
    for (c, resp), lps in zip(pairs[:2], got[:2], strict=True):
        p = backend.tok(backend.render(c), add_special_tokens=False)["input_ids"]
        r = backend.tok(resp, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logits = backend.model(torch.tensor([p + r])).logits[0].float().log_softmax(-1)
        ref = [logits[len(p) - 1 + k, t].item() for k, t in enumerate(r)]
        assert len(lps) == len(r)
        assert lps == pytest.approx(ref, abs=1e-4)


@pytest.mark.slow
def test_provenance(backend):
    d = backend.describe()
    assert d["backend"] == "embedded" and d["model"] == "SmolLM2-135M-Instruct"
    assert d["chat_template_sha256"] == hashlib.sha256(backend.tok.chat_template.encode()).hexdigest()


@pytest.mark.slow
def test_cached_safetensors_give_the_gguf_logits(backend):
    import torch
    from transformers import AutoModelForCausalLM

    from followkit.models import embedded_gguf

    gguf = embedded_gguf()
    ref_model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    ids = torch.tensor([backend.tok(backend.render(chat(PROMPTS[1])), add_special_tokens=False)["input_ids"]])
    with torch.inference_mode():
        assert torch.equal(backend.model(ids).logits, ref_model(ids).logits)


@pytest.mark.slow
def test_dtype_auto_and_cache_namespace(backend, monkeypatch):
    import followkit.backends.hf as hf

    assert backend.dtype == "float32" and backend.describe()["dtype"] == "float32"
    monkeypatch.setattr(hf, "cpu_has_fast_bf16", lambda: False)
    assert hf.EmbeddedBackend(dtype="auto").dtype == "float32"  # emulated bfloat16 would be slower
    monkeypatch.setattr(hf, "cpu_has_fast_bf16", lambda: True)
    bf = hf.EmbeddedBackend(dtype="auto")
    assert bf.dtype == "bfloat16" and bf.describe()["dtype"] == "bfloat16"
    # answers of another precision never come back from the cache as if they were float32's
    assert bf.cache_identity() == backend.cache_identity() + ":bfloat16"
    out = bf.generate([chat("Name a fruit.")], SamplingParams(n=1, temperature=0.0, max_tokens=8))
    assert out[0][0].strip()
