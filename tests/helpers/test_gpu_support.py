"""The GPU suite's helpers on CPU: the self-made tiny Llama and a training run by device."""

from __future__ import annotations

import math

import pytest

from tests.helpers.gpu_support import grpo_prompts, run_train, tiny_gpu_llama, train_args


def test_tiny_gpu_llama_needs_nothing_downloaded(tmp_path):
    from transformers import AutoTokenizer

    model = tiny_gpu_llama(tmp_path)
    tok = AutoTokenizer.from_pretrained(model)
    text = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert (
        len(tok) == 512
        and tok.decode(tok("Copper wires, 3 bullets.")["input_ids"]) == "Copper wires, 3 bullets."
    )
    assert grpo_prompts(tmp_path / "p.jsonl").read_text().count("\n") == 4


@pytest.mark.slow
def test_the_helpers_train_on_cpu(tmp_path):
    model = tiny_gpu_llama(tmp_path)
    log = run_train(train_args("iopo", model, tmp_path / "iopo", steps=4), "cpu", "float32")
    losses = [r["loss"] for r in log]
    assert [r["step"] for r in log] == [1, 2, 3, 4] and all(math.isfinite(x) for x in losses)
    assert losses[0] == pytest.approx(math.log(2), abs=1e-4)  # policy == reference at step 1
    assert losses[3] < losses[0]
