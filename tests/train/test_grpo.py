"""GRPO / RLVR: prompt loading, config rules, TRL's GRPOTrainer calling our reward, and `followkit train --method grpo`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from followkit.cli import main
from followkit.core.errors import ConstraintError, InputError
from followkit.train.grpo import load_prompts
from tests.helpers.paths import ROOT

NO_COMMA, LOWER = "punctuation:no_comma", "change_case:english_lowercase"
README = ROOT / "README.md"


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _prompts(tmp_path: Path) -> Path:
    judged = {"id": "style:tone", "kwargs": {}, "text": "Be warm.", "dimension": "Tone and Style"}
    return _write(
        tmp_path / "prompts.jsonl",
        [
            {
                "id": "fk-0",
                "prompt": "Describe a lake. No commas.",
                "constraints": [{"id": NO_COMMA, "kwargs": {}, "text": "No commas."}, judged],
            },
            {
                "key": 1001,
                "prompt": "Describe a hill in lowercase.",
                "instruction_id_list": [LOWER],
                "kwargs": [{}],
            },
            {
                "id": "fk-2",
                "prompt": "Describe a tree.",
                "constraints": [
                    {
                        "id": "length_constraints:number_words",
                        "kwargs": {"relation": "less than", "num_words": 40},
                    }
                ],
            },
            {"key": 1003, "prompt": "Describe a road.", "instruction_id_list": [NO_COMMA, LOWER]},
        ],
    )


def test_load_prompts_reads_both_forms(tmp_path):
    rows, stats = load_prompts(_prompts(tmp_path))
    assert stats == {"rows": 4, "followkit": 2, "ifeval": 2, "skipped": 0, "judged_constraints": 1}
    assert rows[0]["prompt"] == [{"role": "user", "content": "Describe a lake. No commas."}]
    assert [r["id"] for r in rows] == ["fk-0", "1001", "fk-2", "1003"]
    assert json.loads(rows[0]["constraints"]) == [{"id": NO_COMMA, "kwargs": {}}]  # the judged one left out
    assert json.loads(rows[3]["constraints"]) == [{"id": NO_COMMA, "kwargs": {}}, {"id": LOWER, "kwargs": {}}]


def test_load_prompts_names_file_line_and_field(tmp_path):
    good = {"key": 1, "prompt": "p", "instruction_id_list": [NO_COMMA], "kwargs": [{}]}
    bad = {"key": 2, "prompt": "p", "instruction_id_list": ["punctuation:no_coma"], "kwargs": [{}]}
    path = _write(tmp_path / "bad.jsonl", [good, bad])
    with pytest.raises(ConstraintError, match=rf"{re.escape(str(path))}:2: field 'instruction_id_list\[0\]'"):
        load_prompts(path)
    rows, stats = load_prompts(path, skip_bad_records=True)
    assert len(rows) == 1 and stats["skipped"] == 1
    path = _write(tmp_path / "none.jsonl", [{"id": "a", "prompt": "p", "messages": []}])
    with pytest.raises(InputError, match=r"none.jsonl:1: field 'constraints': missing"):
        load_prompts(path)
    conv = {"id": "c", "language": "en", "turns": [{"prompt": "p", "constraints": [{"id": NO_COMMA}]}]}
    path = _write(tmp_path / "turns.jsonl", [good, conv])
    with pytest.raises(InputError, match=r"turns.jsonl:2: field 'turns': a multi-turn record"):
        load_prompts(path)


def test_config_rules_exit_2(tmp_path, capsys):
    args = ["train", "--data", "x.jsonl", "--out", str(tmp_path / "o")]
    assert main([*args, "--method", "sft", "num_generations=8"]) == 2
    assert "num_generations applies to --method grpo" in capsys.readouterr().err
    assert main([*args, "--method", "grpo", "beta=0.2"]) == 2
    assert "beta does not apply to --method grpo" in capsys.readouterr().err
    assert main([*args, "--method", "grpo", "num_generations=3"]) == 2
    assert "must be a multiple of num_generations (3)" in capsys.readouterr().err


def test_a_saved_config_loads_for_any_method():
    from followkit.train.config import TrainConfig

    saved = TrainConfig(method="sft", data="x", out="o").model_dump()  # every field, GRPO's included
    assert TrainConfig.model_validate({**saved, "method": "grpo"}).method == "grpo"
    assert TrainConfig.model_validate({**saved, "method": "dpo"}).method == "dpo"


def test_build_reward_from_the_settings():
    from followkit.rewards.rlvr import ConstraintReward, HybridReward
    from followkit.train.config import TrainConfig
    from followkit.train.grpo import build_reward

    base = {"method": "grpo", "data": "x", "out": "o"}
    plain = build_reward(TrainConfig(**base))
    assert isinstance(plain, ConstraintReward) and (plain.mode, plain.loose, plain.length_penalty) == (
        "fraction",
        False,
        None,
    )
    cfg = TrainConfig(
        **base,
        reward_mode="all",
        reward_loose=True,
        min_words=10,
        max_words=300,
        judge="openai:judge-model",
        judge_base_url="http://127.0.0.1:8000/v1",
        judge_combine="add",
        judge_weight=0.25,
    )
    hybrid = build_reward(cfg)
    assert isinstance(hybrid, HybridReward) and (hybrid.combine, hybrid.weight) == ("add", 0.25)
    assert hybrid.judge == "openai:judge-model" and hybrid.backend_options == {
        "base_url": "http://127.0.0.1:8000/v1"
    }
    assert (hybrid.rule.mode, hybrid.rule.loose) == ("all", True)
    assert (hybrid.rule.length_penalty.min_words, hybrid.rule.length_penalty.max_words) == (10, 300)


def _log(out: Path) -> list[dict]:
    return [json.loads(ln) for ln in (out / "log.jsonl").read_text().splitlines() if '"loss"' in ln]


class Spy:
    """A reward that records the keyword arguments TRL passes and returns 0.5."""

    __name__ = "spy"

    def __init__(self):
        self.calls: list[dict] = []

    def __call__(self, completions, **kwargs):
        self.calls.append({"completions": completions, **kwargs})
        return [0.5] * len(completions)


@pytest.mark.slow
def test_trl_grpo_trainer_calls_our_reward_with_the_dataset_columns(tiny, tmp_path):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from followkit.rewards import constraint_reward

    rows = [
        {
            "prompt": [{"role": "user", "content": f"Say something about number {i}."}],
            "key": i,
            "instruction_id_list": [NO_COMMA, LOWER],
            "kwargs": [{}, {}],
        }
        for i in range(4)
    ]
    spy = Spy()
    args = GRPOConfig(
        output_dir=str(tmp_path / "trl"),
        max_steps=2,
        per_device_train_batch_size=4,
        num_generations=2,
        max_completion_length=6,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        use_cpu=True,
    )
    trainer = GRPOTrainer(
        model=str(tiny),
        reward_funcs=[constraint_reward, spy],
        args=args,
        train_dataset=Dataset.from_list(rows),
    )
    trainer.train()
    assert len(spy.calls) == 2
    call = spy.calls[0]
    assert {"prompts", "completions", "completion_ids", "key", "instruction_id_list", "kwargs"} <= set(call)
    assert len(call["completions"]) == 4 and call["instruction_id_list"][0] == [NO_COMMA, LOWER]
    assert call["completions"][0][0]["role"] == "assistant"  # conversational prompts: chat completions
    logs = [r for r in trainer.state.log_history if "reward" in r]
    assert len(logs) == 2
    for r in logs:
        assert 0.0 <= r["rewards/constraint_reward/mean"] <= 1.0
        assert r["rewards/spy/mean"] == 0.5
        assert "constraints/punctuation/mean" in r and "constraints/change_case/std" in r
        assert "frac_reward_zero_std" in r


def _readme_snippet() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## RLVR", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_readme_snippet_runs(tiny, tmp_path, shared, monkeypatch):
    import followkit.models

    code = _readme_snippet()
    assert "from followkit.rewards import constraint_reward" in code
    assert "reward_funcs=constraint_reward" in code
    # The README runs it from the checkout on the embedded model; here on the tiny model, in a folder
    # that sees the reference data at ../shared/data as the checkout does.
    monkeypatch.setattr(followkit.models, "embedded_dir", lambda: tiny)
    work = tmp_path / "main"
    work.mkdir()
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(shared)
    monkeypatch.chdir(work)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    logs = [r for r in scope["trainer"].state.log_history if "reward" in r]
    assert logs and all(0.0 <= r["rewards/constraint_reward/mean"] <= 1.0 for r in logs)


def _grpo_args(model: str, data: Path, out: Path, *extra: str) -> list[str]:
    return (
        ["train", "--method", "grpo", "--model", model, "--data", str(data), "--out", str(out)]
        + ["gradient_accumulation_steps=4", "num_generations=2", "max_completion_length=8"]
        + ["learning_rate=1e-3", "warmup_ratio=0", "save_steps=1", *extra]
    )


@pytest.mark.slow
def test_cli_grpo_on_tiny_model_logs_rewards_and_resumes(tiny, tmp_path):
    data = _prompts(tmp_path)
    out = tmp_path / "grpo"
    assert main(_grpo_args(str(tiny), data, out, "max_steps=2", "min_words=5")) == 0
    assert main(_grpo_args(str(tiny), data, out, "max_steps=3", "min_words=5", "--resume")) == 0
    log = _log(out)
    assert [r["step"] for r in log] == [1, 2, 3]  # continued, not duplicated
    for r in log:
        assert {"reward", "reward_std", "frac_reward_zero_std", "kl", "completions/mean_length"} <= set(r)
        assert any(k.startswith("constraints/") and k.endswith("/mean") for k in r)
        assert any(k.startswith("constraints/") and k.endswith("/std") for k in r)
    assert (out / "adapter" / "adapter_config.json").exists() and (out / "merged" / "config.json").exists()
    config = (out / "config.yaml").read_text()
    assert "method: grpo" in config and "min_words: 5" in config
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["global_step"] == 3 and "LengthPenalty(min_words=5" in manifest["reward"]


@pytest.mark.slow
def test_cli_grpo_on_embedded_model_then_eval_the_merged_model(tmp_path, capsys):
    data = tmp_path / "data"
    assert (
        main(
            ["synth", "compose", "--n", "6", "--seed", "3", "--language", "en", "--k", "uniform:1-2"]
            + ["--out", str(data)]
        )
        == 0
    )
    out = tmp_path / "grpo"
    code = main(
        ["train", "--method", "grpo", "--model", "embedded", "--data", str(data / "instructions.jsonl")]
        + ["--out", str(out), "max_steps=3", "gradient_accumulation_steps=4", "num_generations=4"]
        + ["max_completion_length=24", "learning_rate=1e-4", "save_steps=10"]
    )
    assert code == 0
    log = _log(out)
    assert [r["step"] for r in log] == [1, 2, 3]
    assert all("reward" in r and "kl" in r and "frac_reward_zero_std" in r for r in log)
    assert all(any(k.startswith("constraints/") for k in r) for r in log)
    capsys.readouterr()
    code = main(
        ["eval", "--model", f"hf:{out}/merged", "--benchmark", "followkit-bench", "--limit", "2"]
        + ["--max-tokens", "16", "--no-cache", "--out", str(tmp_path / "eval")]
    )
    assert code == 0
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert results
