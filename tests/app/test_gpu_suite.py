"""The GPU suite: bfloat16 generation and training on CUDA against CPU float32, reference log-probs,
`accelerate launch` with the shipped DDP, ZeRO-3 and FSDP configs on one GPU (skipped without CUDA).

Every test builds its own tiny random Llama (gpu_support.tiny_gpu_llama): nothing is downloaded.
Run: `pytest -m gpu` (scripts/gpu_check.sh on a bare GPU machine).

Tolerances, stated once:
- generation: greedy tokens on CUDA bf16 equal CPU float32 up to the first step where the float32
  top-two logit gap is below GREEDY_TIE (a near tie that bf16 rounding may flip); the first
  differing position is recorded as the junit property `greedy_divergence`;
- training: the step-1 loss on CUDA bf16 is within STEP1_RTOL (relative) of CPU float32; losses are
  finite, and the step-4 loss (the step-1 batch again: 6 items, 2 a step, no shuffle) is lower;
- GRPO samples, so its CPU and GPU completions differ: finite losses and logged rewards only;
- reference log-probs: within REF_RTOL (relative) of CPU float32.
"""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.gpu_support import (
    ROOT,
    grpo_prompts,
    has_cuda,
    read_log,
    run_train,
    tiny_gpu_llama,
    train_args,
)

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not has_cuda(), reason="needs a CUDA GPU")]

GREEDY_TIE = 0.05
STEP1_RTOL = 0.03
REF_RTOL = 0.02
CONFIGS = ROOT / "src" / "followkit" / "configs"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return tiny_gpu_llama(tmp_path_factory.mktemp("gpu-models"))


def _greedy(model_dir: Path, device: str, dtype, prompt_ids, n: int):
    import torch
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device).eval()
    ids = torch.tensor([prompt_ids], device=device)
    with torch.no_grad():
        out = m.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=n,
            min_new_tokens=n,
            do_sample=False,
            output_scores=True,
            return_dict_in_generate=True,
            pad_token_id=m.config.pad_token_id,
        )
    tokens = out.sequences[0, len(prompt_ids) :].tolist()
    gaps = [float(s[0].float().topk(2).values.diff().abs()) for s in out.scores]
    return tokens, gaps


def test_greedy_generation_bf16_cuda_matches_cpu_float32(model, record_property):
    import torch
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)
    chat = [{"role": "user", "content": "Describe the water cycle in three bullet points."}]
    prompt = tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    ids = tok(prompt, add_special_tokens=False)["input_ids"]
    cpu, gaps = _greedy(model, "cpu", torch.float32, ids, 16)
    gpu, _ = _greedy(model, "cuda", torch.bfloat16, ids, 16)
    clear = next((i for i, g in enumerate(gaps) if g < GREEDY_TIE), len(gaps))
    diverge = next((i for i, (a, b) in enumerate(zip(cpu, gpu, strict=True)) if a != b), len(cpu))
    record_property("greedy_divergence", diverge)
    record_property("greedy_clear_prefix", clear)
    assert gpu[:clear] == cpu[:clear], f"diverged at {diverge}, before the first near tie at {clear}"


def test_hf_backend_generates_on_cuda_in_bf16(model):
    from followkit.backends import SamplingParams, load_backend

    be = load_backend(f"hf:{model}", cache=False, device="cuda")
    assert (be.device, be.dtype) == ("cuda", "bfloat16")
    chats = [[{"role": "user", "content": "Name a use of copper."}]]
    a = be.generate(chats, SamplingParams(max_tokens=12))
    assert a == be.generate(chats, SamplingParams(max_tokens=12))  # greedy is deterministic
    cpu = load_backend(f"hf:{model}", cache=False, device="cpu", dtype="float32")
    pair = [(chats[0], "Copper carries current in wires.")]
    lp_gpu, lp_cpu = be.logprobs(pair)[0], cpu.logprobs(pair)[0]
    assert sum(lp_gpu) == pytest.approx(sum(lp_cpu), rel=REF_RTOL)


@pytest.mark.parametrize("method", ["sft", "dpo_sft", "iopo"])
def test_training_bf16_on_cuda_falls_and_starts_like_cpu_float32(model, tmp_path, method, record_property):
    gpu = run_train(train_args(method, model, tmp_path / "gpu"), "cuda", "bfloat16")
    cpu = run_train(train_args(method, model, tmp_path / "cpu", steps=1), "cpu", "float32")
    losses = [r["loss"] for r in gpu]
    record_property("gpu_losses", losses)
    record_property("cpu_step1_loss", cpu[0]["loss"])
    assert [r["step"] for r in gpu] == [1, 2, 3, 4]
    assert all(math.isfinite(x) for x in losses)
    assert losses[3] < losses[0]  # the same batch as step 1, after three updates
    assert losses[0] == pytest.approx(cpu[0]["loss"], rel=STEP1_RTOL)


def test_grpo_bf16_on_cuda_logs_finite_losses_and_rewards(model, tmp_path):
    data = grpo_prompts(tmp_path / "prompts.jsonl")
    log = run_train(train_args("grpo", model, tmp_path / "grpo", data=data), "cuda", "bfloat16")
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    for r in log:
        assert math.isfinite(r["loss"]) and math.isfinite(r["reward"])
        assert {"reward_std", "frac_reward_zero_std", "kl"} <= set(r)


def _ref_logps(out: Path) -> dict[str, list[float]]:
    import json

    rows = [json.loads(x) for x in (out / "ref_logps.jsonl").read_text().splitlines()]
    return {r["key"]: r["ref_logps"] for r in rows}


def test_precomputed_reference_logps_on_cuda_match_cpu_float32(model, tmp_path):
    extra = ["precompute_ref_logps=true"]
    run_train(train_args("dpo_sft", model, tmp_path / "gpu", steps=2) + extra, "cuda", "bfloat16")
    run_train(train_args("dpo_sft", model, tmp_path / "cpu", steps=1) + extra, "cpu", "float32")
    gpu, cpu = _ref_logps(tmp_path / "gpu"), _ref_logps(tmp_path / "cpu")
    assert gpu.keys() == cpu.keys() and gpu
    for key in gpu:
        assert gpu[key] == pytest.approx(cpu[key], rel=REF_RTOL), key


def _launch(config: Path, args: list[str], port: int) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config)]
    cmd += ["--num_processes", "1", "--main_process_port", str(port), "-m", "followkit.cli", *args]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.parametrize(
    ("config", "needs", "port"),
    [
        ("accelerate_ddp_cpu.yaml", None, 29531),
        ("accelerate_zero3.yaml", "deepspeed", 29532),
        ("accelerate_fsdp.yaml", None, 29533),
    ],
)
def test_accelerate_launch_with_the_shipped_config_on_one_gpu(model, tmp_path, config, needs, port):
    if needs and importlib.util.find_spec(needs) is None:
        pytest.skip(f"needs {needs} (pip install {needs})")
    out = tmp_path / "run"
    args = train_args("iopo", model, out, steps=2) + ["precompute_ref_logps=true"]  # float32 under bf16 AMP
    proc = _launch(CONFIGS / config, args, port)
    assert proc.returncode == 0, proc.stderr[-4000:]
    log = read_log(out)
    assert [r["step"] for r in log] == [1, 2] and all(math.isfinite(r["loss"]) for r in log)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs vllm")
def test_vllm_greedy_matches_hf_on_the_tiny_model(model):
    from followkit.backends import SamplingParams, load_backend

    chats = [[{"role": "user", "content": "List three prime numbers."}]]
    vl = load_backend(f"vllm:{model}", cache=False, dtype="float32")
    hf = load_backend(f"hf:{model}", cache=False, device="cuda", dtype="float32")
    params = SamplingParams(max_tokens=8)
    assert vl.generate(chats, params) == hf.generate(chats, params)
