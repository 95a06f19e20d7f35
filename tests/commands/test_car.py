"""CAR with the real embedded student (SmolLM2-135M): a ranking known by construction; a reward model."""

from __future__ import annotations

import json
import math

import pytest

from followkit.cli import main
from followkit.rewards.car import RewardInput, RewardModelReward
from followkit.select.car import best_teacher, load_teacher
from tests.helpers.paths import FIXTURES

FIX = FIXTURES
pytestmark = pytest.mark.slow


def test_car_command_ranks_a_known_order_with_the_embedded_student(tmp_path, capsys):
    # plain and odd follow every constraint (verifier reward 1.0 each) but odd is written in rare
    # words and gibberish; broken is plain with one constraint-breaking edit per answer (nearly the
    # same loss, reward 0.125). CAR must put plain first, and rank odd above broken at beta = 1.
    out = tmp_path / "car"
    rc = main(
        [
            "car",
            "--student",
            "embedded",
            "-t",
            f"plain={FIX / 'car_plain.jsonl'}",
            "-t",
            f"odd={FIX / 'car_odd.jsonl'}",
            "-t",
            f"broken={FIX / 'car_broken.jsonl'}@openai:broken-teacher",
            "--reward",
            "verifier",
            "--no-cache",
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert rc == 0
    doc = json.loads((out / "car.json").read_text())
    by = {t["name"]: t for t in doc["teachers"]}
    assert doc["ranking"] == ["plain", "odd", "broken"]
    assert by["plain"]["reward"] == by["odd"]["reward"] == 1.0
    assert by["broken"]["reward"] == pytest.approx(0.125)
    assert by["odd"]["loss"] > by["plain"]["loss"] + 1.0  # equal reward, the student prefers plain
    assert abs(by["broken"]["loss"] - by["plain"]["loss"]) < 0.3  # ~equal loss, plain has the reward
    assert by["plain"]["car"] == pytest.approx(1.0 / (1.0 + by["plain"]["loss"]))
    assert 0 < by["plain"]["ifd"] < 1.5 and by["plain"]["length_tokens"] > 5
    assert by["broken"]["model"] == "openai:broken-teacher"
    assert best_teacher(out / "car.json") == "openai:plain-teacher"
    rows = [json.loads(ln) for ln in (out / "responses.jsonl").read_text().splitlines()]
    assert len(rows) == 12 and all(r["nll"] > 0 for r in rows)
    assert printed.index("plain") < printed.index("odd") < printed.index("broken")
    assert (out / "manifest.json").exists()


def test_sequence_classification_reward_model(tmp_path):
    # A tiny randomly initialised Llama reward model (one label) with the embedded tokenizer: the
    # reward is sigmoid of the model's own logit on the chat-templated conversation.
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    from followkit.models import embedded_dir

    tok = AutoTokenizer.from_pretrained(embedded_dir())
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        num_labels=1,
        pad_token_id=tok.pad_token_id or tok.eos_token_id,
    )
    torch.manual_seed(0)
    LlamaForSequenceClassification(cfg).save_pretrained(tmp_path / "rm")
    tok.save_pretrained(tmp_path / "rm")

    rm = RewardModelReward(tmp_path / "rm")
    teacher = load_teacher("plain", FIX / "car_plain.jsonl")
    items = [RewardInput(r.chat[-1]["content"], r.chat, r.response, r.constraints) for r in teacher.records]
    got = rm(items)
    assert all(0.0 < g < 1.0 for g in got)
    model = LlamaForSequenceClassification.from_pretrained(tmp_path / "rm").eval()
    for it, g, z in zip(items, got, rm.raw(), strict=True):
        ids = tok(rm.text(it), return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            logit = model(**ids).logits[0, 0].item()
        assert z == pytest.approx(logit, abs=1e-4)
        assert g == pytest.approx(1.0 / (1.0 + math.exp(-logit)), abs=1e-5)
    assert "<|im_start|>assistant" in rm.text(items[0])  # the chat template is applied


def test_causal_lm_is_refused_as_a_reward_model():
    from followkit.core.errors import InputError
    from followkit.models import embedded_dir

    with pytest.raises(InputError, match="not a sequence-classification reward model"):
        RewardModelReward(embedded_dir())
