"""End-to-end training runs: the CLI, NaN handling, resume, and 2-process DDP on CPU (gloo)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from followkit.cli import main
from tests.helpers.paths import ROOT
from tests.helpers.train_support import DPO, tiny_llama_dir

IOPO = "tests/fixtures/train_iopo.jsonl"
SFT = "tests/fixtures/train_sft.jsonl"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_llama_dir(tmp_path_factory.mktemp("models"))


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if '"loss"' in line]


def test_config_errors_exit_2(tmp_path, capsys):
    args = ["train", "--method", "iopo", "--data", IOPO, "--out", str(tmp_path / "o")]
    assert main([*args, "nonsense_key=1"]) == 2
    assert "nonsense_key" in capsys.readouterr().err
    assert main([*args, "sft_weight=1.0"]) == 2
    assert "sft_weight applies to --method dpo" in capsys.readouterr().err
    assert main([*args, "beta=-1"]) == 2
    assert "field 'beta'" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("method", ["simpo", "orpo"])
@pytest.mark.parametrize("lora", ["true", "false"])
def test_reference_free_methods_train_without_a_reference(tiny, tmp_path, monkeypatch, method, lora):
    # SimPO and ORPO (DESIGN 12): finite, falling loss on a fixed batch, and no reference ever:
    # no reference forward, no second model (full fine-tuning would load one for dpo), no cache.
    from followkit.train import trainer

    def never(*args, **kwargs):
        raise AssertionError("a reference-free method reached the reference path")

    monkeypatch.setattr(trainer.FollowkitTrainer, "reference_logps", never)
    monkeypatch.setattr(trainer.FollowkitTrainer, "_reference", never)
    monkeypatch.setattr(trainer, "_frozen", never)
    monkeypatch.setattr(trainer, "precompute_reference", never)
    out = tmp_path / method
    args = ["train", "--method", method, "--model", str(tiny), "--data", DPO, "--out", str(out)]
    args += ["per_device_train_batch_size=6", "gradient_accumulation_steps=1", "max_steps=5", "shuffle=false"]
    args += ["learning_rate=1e-2", "warmup_ratio=0", "lr_scheduler_type=constant", "merge=false"]
    args += ["save_steps=100", f"lora={lora}"]
    assert main(args) == 0
    log = _log(out)
    losses = [r["loss"] for r in log]
    assert len(losses) == 5 and all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0] - 1e-3, losses  # the same 6 pairs each step: the loss falls
    assert "logps/ref" not in log[0] and "rewards/margins" in log[0]
    assert ("loss/sft" in log[0]) == (method == "orpo")  # ORPO's L_SFT on the chosen
    assert not (out / "ref_logps.jsonl").exists()


def test_reference_free_methods_refuse_reference_settings(tmp_path, capsys):
    args = ["train", "--data", DPO, "--out", str(tmp_path / "o")]
    for method in ("simpo", "orpo"):
        assert main([*args, "--method", method, "precompute_ref_logps=true"]) == 2
        assert f"precompute_ref_logps does not apply to --method {method}" in capsys.readouterr().err
        assert main([*args, "--method", method, "ref_model=x"]) == 2
        assert "ref_model applies to --method dpo, iopo" in capsys.readouterr().err
    assert main([*args, "--method", "dpo", "simpo_beta=2.5"]) == 2
    assert "simpo_beta applies to --method simpo" in capsys.readouterr().err
    assert main([*args, "--method", "simpo", "orpo_lambda=0.2"]) == 2
    assert "orpo_lambda applies to --method orpo" in capsys.readouterr().err
    assert main([*args, "--method", "simpo", "mix=builtin:general:0.5"]) == 2  # no SFT term to carry it
    assert "mix applies to --method sft, dpo, iopo, orpo" in capsys.readouterr().err


@pytest.mark.slow
def test_nan_loss_stops_and_keeps_last_good_checkpoint(tiny, tmp_path, capsys):
    out = tmp_path / "nan"
    # A huge learning rate on full fine-tuning drives the logits to inf within a few steps.
    code = main(
        ["train", "--method", "sft", "--model", str(tiny), "--data", SFT, "--out", str(out)]
        + ["lora=false", "learning_rate=1e4", "max_steps=8", "gradient_accumulation_steps=1", "save_steps=1"]
        + ["warmup_ratio=0", "lr_scheduler_type=constant", "save_total_limit=null"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "non-finite loss at step" in err
    bad_step = int(err.split("non-finite loss at step ")[1].split(";")[0])
    checkpoints = sorted(int(p.name.split("-")[1]) for p in out.glob("checkpoint-*"))
    assert checkpoints and checkpoints[-1] == bad_step - 1  # the bad step was not saved
    assert f"last good checkpoint: {out}/checkpoint-{bad_step - 1}" in err
    assert not (out / "merged").exists()
    assert all(r["loss"] == r["loss"] for r in _log(out))  # no NaN was logged as a loss


def _iopo_args(model: Path, out: Path, batch: int) -> list[str]:
    return (
        ["train", "--method", "iopo", "--model", str(model), "--data", IOPO, "--out", str(out)]
        + ["shuffle=false", f"per_device_train_batch_size={batch}", "gradient_accumulation_steps=1"]
        + ["max_steps=3", "learning_rate=3e-2", "warmup_ratio=0", "lr_scheduler_type=constant"]
        + ["merge=false", "save_steps=100"]
    )


@pytest.mark.slow
def test_two_process_ddp_matches_one_process(tiny, tmp_path):
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    assert main(_iopo_args(tiny, single, batch=2)) == 0
    launcher = Path(sys.executable).with_name("accelerate")
    cmd = [str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1"]
    cmd += ["--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29517"]
    cmd += ["-m", "followkit.cli", *_iopo_args(tiny, ddp, batch=1)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    one, two = _log(single), _log(ddp)
    assert [r["step"] for r in one] == [r["step"] for r in two] == [1, 2, 3]
    assert [r["tokens"] for r in one] == [r["tokens"] for r in two]  # both saw the same global batches
    for a, b in zip(one, two, strict=True):
        assert abs(a["loss"] - b["loss"]) < 1e-4, (a, b)
        # margins are differences of small log-ratios (~1e-2 here): after two steps at lr 3e-2 the
        # order of gloo's gradient sum moves them by ~1e-4 in float32, so they get a relative bound
        assert a["rewards/margins"] == pytest.approx(b["rewards/margins"], rel=3e-2, abs=1e-4)
    assert abs(one[-1]["loss"] - one[0]["loss"]) > 1e-3  # the curve moved: the comparison is not trivial


@pytest.mark.slow
def test_resume_continues_like_an_uninterrupted_run(tiny, tmp_path):
    common = ["--method", "iopo", "--model", str(tiny), "--data", IOPO]
    common += ["gradient_accumulation_steps=1", "learning_rate=3e-2", "warmup_ratio=0"]
    common += ["lr_scheduler_type=constant", "merge=false", "save_steps=2"]
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert main(["train", *common, "--out", str(full), "max_steps=4"]) == 0
    assert main(["train", *common, "--out", str(cut), "max_steps=2"]) == 0
    assert main(["train", *common, "--out", str(cut), "max_steps=4", "--resume"]) == 0
    a, b = _log(full), _log(cut)
    assert [r["step"] for r in b] == [1, 2, 3, 4]  # the log was continued, not duplicated
    for x, y in zip(a, b, strict=True):
        assert abs(x["loss"] - y["loss"]) < 1e-6, (x, y)


@pytest.mark.slow
def test_iopo_on_embedded_model_writes_a_loadable_merged_model(tmp_path):
    out = tmp_path / "iopo"
    code = main(
        ["train", "--method", "iopo", "--model", "embedded", "--data", IOPO, "--out", str(out)]
        + ["max_steps=2", "gradient_accumulation_steps=1", "precompute_ref_logps=true", "learning_rate=1e-4"]
    )
    assert code == 0
    cache = [json.loads(line) for line in (out / "ref_logps.jsonl").read_text().splitlines()]
    assert len(cache) == 6 and all(len(r["ref_logps"]) == 4 for r in cache)  # 4 numbers per group
    assert all(v < 0 for r in cache for v in r["ref_logps"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["global_step"] == 2 and manifest["ref_logps_cache"] == {"cached": 0, "new": 6}
    assert (out / "adapter" / "adapter_config.json").exists()
    config = (out / "config.yaml").read_text()
    assert "method: iopo" in config and "precompute_ref_logps: true" in config

    import torch

    from followkit.models import load_causal_lm

    model, tok = load_causal_lm(f"hf:{out / 'merged'}")
    chat = tok.apply_chat_template(
        [{"role": "user", "content": "Say hi."}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        gen = model.generate(**chat, max_new_tokens=5, do_sample=False)
    assert gen.shape[1] > chat["input_ids"].shape[1]
    base, _ = load_causal_lm("embedded")
    name = "model.layers.0.self_attn.q_proj.weight"
    # the merged weights carry the trained adapter
    assert not torch.equal(model.state_dict()[name], base.state_dict()[name])


@pytest.mark.parametrize(("name", "method"), [("train_iopo.yaml", "iopo"), ("train_dpo_sft.yaml", "dpo")])
def test_example_train_configs_validate(name, method):
    from followkit.core.settings import load_yaml
    from followkit.train.config import TrainConfig

    path = ROOT / "src" / "followkit" / "configs" / name
    cfg = TrainConfig.model_validate({**load_yaml(path), "method": method, "data": "d.jsonl", "out": "o"})
    assert cfg.lora and cfg.packing


def test_example_accelerate_configs_name_their_backend():
    import yaml

    root = ROOT / "src" / "followkit" / "configs"
    assert yaml.safe_load((root / "accelerate_zero3.yaml").read_text())["deepspeed_config"]["zero_stage"] == 3
    assert yaml.safe_load((root / "accelerate_fsdp.yaml").read_text())["distributed_type"] == "FSDP"
