"""Helpers of the GPU suite (tests/app/test_gpu_suite.py): a self-made tiny Llama and training runs by device.

Nothing is downloaded and no other model is read: the tokenizer is a byte-level BPE trained here
on the repository's training fixtures, the model a 2-layer Llama drawn from a fixed seed. The
helpers run on CPU too, which is how they are checked on machines without a GPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.paths import FIXTURES, ROOT

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def has_cuda() -> bool:
    """True where torch sees a CUDA device."""
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def _corpus() -> list[str]:
    texts = []
    for name in ("train_sft.jsonl", "train_dpo.jsonl", "train_iopo.jsonl"):
        for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines():
            texts.append(line)
    return texts


def tiny_gpu_llama(root: Path, seed: int = 0) -> Path:
    """Save a 2-layer random Llama with a 512-token byte-level BPE tokenizer under root/tiny-gpu-llama."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from tests.helpers.train_support import save_tiny_llama

    out = root / "tiny-gpu-llama"
    if (out / "config.json").exists():
        return out
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(_corpus(), trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHATML,
    )
    return save_tiny_llama(tok, out, hidden=64, intermediate=128, max_positions=1024, seed=seed)


def grpo_prompts(path: Path) -> Path:
    """A GRPO prompts file of four rule-checkable rows."""
    rows = [
        {"id": f"g-{i}", "prompt": p, "constraints": [{"id": cid, "kwargs": {}}]}
        for i, (p, cid) in enumerate(
            [
                ("Describe a lake.", "punctuation:no_comma"),
                ("Describe a hill.", "change_case:english_lowercase"),
                ("Describe a tree.", "punctuation:no_comma"),
                ("Describe a road.", "change_case:english_lowercase"),
            ]
        )
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


METHODS = {
    "sft": ["--data", str(FIXTURES / "train_sft.jsonl")],
    "dpo_sft": ["--data", str(FIXTURES / "train_dpo.jsonl"), "sft_weight=1.0"],
    "iopo": ["--data", str(FIXTURES / "train_iopo.jsonl")],
}
"""followkit train arguments per method (GRPO takes a prompts file, see grpo_prompts)."""


def train_args(method: str, model: Path, out: Path, data: Path | None = None, steps: int = 4) -> list[str]:
    """`followkit train` arguments: full fine-tuning, a constant lr, one fixed micro-batch a step."""
    name = "dpo" if method == "dpo_sft" else method
    args = ["train", "--method", name, "--model", str(model), "--out", str(out)]
    if method == "grpo":
        args += ["--data", str(data), "num_generations=2", "max_completion_length=8", "temperature=1.0"]
        args += ["gradient_accumulation_steps=2", "per_device_train_batch_size=2"]
    else:
        args += [*METHODS[method], "gradient_accumulation_steps=1", "per_device_train_batch_size=2"]
    return args + [
        f"max_steps={steps}",
        "lora=false",
        "shuffle=false",
        "learning_rate=1e-3",
        "warmup_ratio=0",
        "lr_scheduler_type=constant",
        "merge=false",
        "save_steps=1000",
        "seed=0",
    ]


def run_train(args: list[str], device: str, dtype: str, env: dict[str, str] | None = None) -> list[dict]:
    """Run `followkit train ARGS dtype=DTYPE` in a subprocess on `device` (cpu hides every GPU); its logged steps."""
    full = {**os.environ, **(env or {})}
    if device == "cpu":
        full["CUDA_VISIBLE_DEVICES"] = ""
    full["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), full.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-m", "followkit.cli", *args, f"dtype={dtype}"],
        capture_output=True,
        text=True,
        env=full,
        timeout=600,
    )
    if proc.returncode != 0:
        raise AssertionError(f"train failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return read_log(Path(args[args.index("--out") + 1]))


def read_log(out: Path) -> list[dict]:
    """The logged training steps of a run (rows with a loss)."""
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return [r for r in rows if "loss" in r]
