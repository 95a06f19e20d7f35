"""Preference training without dropout (step-0 loss is log 2) and warm-up ratios converted to steps."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from followkit.cli import main
from followkit.train.trainer import warmup_steps
from tests.helpers.train_support import DPO, IOPO, SFT


@pytest.fixture(scope="module")
def tiny_dropout(tiny, tmp_path_factory):
    """The tiny Llama with attention dropout 0.5 (Llama keeps it as a float attribute, not a module)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path_factory.mktemp("models") / "tiny-dropout"
    model = AutoModelForCausalLM.from_pretrained(tiny, attention_dropout=0.5)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny).save_pretrained(out)
    return out


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if '"loss"' in line]


def _common(model: Path, out: Path) -> list[str]:
    return [
        "--model",
        str(model),
        "--out",
        str(out),
        "shuffle=false",
        "gradient_accumulation_steps=1",
        "per_device_train_batch_size=2",
        "merge=false",
        "save_steps=100",
    ]


@pytest.mark.parametrize(
    ("method", "data", "extra"),
    [("dpo", DPO, ["lora=true"]), ("iopo", IOPO, ["lora=false"]), ("iopo", IOPO, ["lora=true"])],
)
def test_step_zero_preference_loss_is_log_2_with_dropout_in_the_model(
    tiny_dropout, tmp_path, method, data, extra
):
    # The policy starts equal to the reference (LoRA B = 0, or a copy), so with dropout disabled the
    # first step's log-ratios are exactly 0 and the loss is log 2. With dropout left on, the policy
    # (train mode) and the reference (eval mode, or train mode with the adapter off) see different
    # masks and the margins are not 0.
    out = tmp_path / method
    args = ["train", "--method", method, "--data", data, *_common(tiny_dropout, out), "max_steps=1", *extra]
    assert main(args) == 0
    (first,) = _log(out)
    assert first["rewards/margins"] == 0.0
    assert first["logps/policy"] == first["logps/ref"]
    assert first["loss"] == pytest.approx(math.log(2), abs=1e-7)


def test_dropout_can_be_kept_and_lora_dropout_needs_it_off(tiny_dropout, tmp_path, capsys):
    out = tmp_path / "kept"
    args = ["train", "--method", "dpo", "--data", DPO, *_common(tiny_dropout, out), "max_steps=1"]
    assert main([*args, "disable_dropout=false"]) == 0
    assert _log(out)[0]["rewards/margins"] != 0.0  # dropout on: the test above is not trivial
    assert main([*args, "lora_dropout=0.1"]) == 2
    assert "lora_dropout has no effect with disable_dropout=true" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("ratio", "total", "steps"),
    [
        (1.0, 4, 4),
        (1.0, 1, 1),
        (0.1, 30, 3),
        (0.1, 8, 1),
        (0.1, 100, 10),
        (0.7, 10, 7),
        (0.5, 3, 2),
        (0.0, 9, 0),
    ],
)
def test_warmup_steps_from_ratio(ratio, total, steps):
    assert warmup_steps(ratio, total) == steps


@pytest.mark.parametrize(("ratio", "factors"), [(1.0, [0.0, 0.25, 0.5, 0.75]), (0.5, [0.0, 0.5, 1.0, 1.0])])
def test_warmup_ratio_spreads_warmup_over_its_share_of_the_steps(tiny, tmp_path, ratio, factors):
    # constant_with_warmup: step k (from 1) runs at peak * min(1, (k - 1) / warmup_steps). Passing
    # the ratio 1.0 on as warmup_steps=1 gave the full rate from the second step.
    out = tmp_path / "warm"
    args = ["train", "--method", "sft", "--data", SFT, *_common(tiny, out), "max_steps=4"]
    args += ["learning_rate=1e-3", "lr_scheduler_type=constant_with_warmup", f"warmup_ratio={ratio}"]
    assert main(args) == 0
    rates = [r["learning_rate"] for r in _log(out)]
    assert rates == pytest.approx([1e-3 * f for f in factors], rel=1e-9)


@pytest.mark.parametrize(("ratio", "total", "steps"), [(0.28, 25, 7), (1.0, 3, 3), (0.5, 3, 2), (0.0, 4, 0)])
def test_grpo_and_sft_warm_up_for_the_same_steps(tiny, tmp_path, ratio, total, steps):
    # One mechanism for every method (trainer.RatioWarmup). GRPO used to pass the ratio on as a
    # share that transformers rounds itself: ceil(25 * 0.28) = ceil(7.000000000000001) = 8, not 7.
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, TrainingArguments
    from trl import GRPOConfig

    from followkit.train.config import TrainConfig
    from followkit.train.data import TokenizedItem
    from followkit.train.grpo import grpo_arguments, grpo_trainer_class
    from followkit.train.trainer import FollowkitTrainer, ItemDataset, PackingCollator, base_arguments

    common = {"data": "x", "model": str(tiny), "max_steps": total, "warmup_ratio": ratio}
    common |= {"gradient_accumulation_steps": 2, "per_device_train_batch_size": 2, "report_to": []}
    grpo = TrainConfig(method="grpo", out=str(tmp_path / "grpo"), num_generations=2, **common)
    sft = TrainConfig(method="sft", out=str(tmp_path / "sft"), **common)

    rows = [{"prompt": [{"role": "user", "content": f"Say {i}."}], "id": str(i)} for i in range(4)]
    grpo_trainer = grpo_trainer_class()(
        model=str(tiny),
        reward_funcs=[lambda completions, **_: [0.0] * len(completions)],
        args=GRPOConfig(**grpo_arguments(grpo, tmp_path / "grpo")),
        train_dataset=Dataset.from_list(rows),
        settings=grpo,
    )
    sft_args = TrainingArguments(
        **base_arguments(sft, tmp_path / "sft"), warmup_steps=0, remove_unused_columns=False
    )
    sft_trainer = FollowkitTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny),
        args=sft_args,
        train_dataset=ItemDataset([TokenizedItem(f"c{i}", [[1, 2]], [[3]], ((0, 0),)) for i in range(8)]),
        data_collator=PackingCollator(0, True, 1),
        settings=sft,
    )
    for trainer in (grpo_trainer, sft_trainer):
        values = trainer.set_initial_training_values(trainer.args, trainer.get_train_dataloader())
        assert values[-1] == total
        # what the scheduler is built from
        assert trainer.args.get_warmup_steps(total) == steps == warmup_steps(ratio, total)


@pytest.mark.parametrize("on", [False, True])
def test_training_arguments_build_without_a_deprecation_warning(tmp_path, on):
    import warnings

    from transformers import TrainingArguments

    from followkit.train.config import TrainConfig
    from followkit.train.trainer import base_arguments

    settings = TrainConfig(method="sft", data="d.jsonl", out=str(tmp_path), gradient_checkpointing=on)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        args = TrainingArguments(**base_arguments(settings, tmp_path))
    assert not [w for w in caught if "checkpointing" in str(w.message)]
    assert args.gradient_checkpointing is on  # the old name still mirrors the setting
