"""`followkit run --dry-run` checks the chain: each stage reads the record type its producer writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from followkit.core.errors import InputError
from followkit.core.records import RECORD_TYPES
from followkit.pipeline import check_chain, load_pipeline, stage_command, stage_records

STAGES = [
    {"name": "compose", "args": ["synth", "compose", "--out", "${run}/data"], "outputs": ["${run}/data/instructions.jsonl"]},
    {
        "name": "respond",
        "args": ["synth", "respond", "--out", "${run}/data", "--student", "embedded"],
        "inputs": ["${run}/data/instructions.jsonl"],
        "outputs": ["${run}/data/responses.jsonl"],
    },
    {
        "name": "pairs",
        "args": ["synth", "pairs", "--format", "iopo", "--out", "${run}/data"],
        "inputs": ["${run}/data/responses.jsonl"],
        "outputs": ["${run}/data/groups_iopo.jsonl"],
    },
    {
        "name": "train",
        "args": ["train", "--method", "iopo", "--data", "${run}/data/groups_iopo.jsonl", "--out", "${run}/t"],
        "inputs": ["${run}/data/groups_iopo.jsonl"],
        "outputs": ["${run}/t/merged"],
    },
]  # fmt: skip


def _pipeline(tmp: Path, stages: list[dict]) -> Path:
    p = tmp / "pipe.yaml"
    p.write_text(yaml.safe_dump({"name": "t", "stages": stages}))
    return p


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "followkit.cli", *argv], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_every_declared_type_is_a_record_type() -> None:
    for cmd, io in stage_records().items():
        for name in (*io.reads, *(t for _, t in io.writes)):
            assert name in RECORD_TYPES, (cmd, name)


def test_stage_command_takes_format_and_method() -> None:
    assert stage_command(["synth", "pairs", "--out", "x"]) == "synth pairs --format dpo"
    assert stage_command(["synth", "pairs", "-f", "iopo"]) == "synth pairs --format iopo"
    assert stage_command(["train", "--method=sft", "--data", "d"]) == "train --method sft"
    assert stage_command(["eval", "--model", "m"]) == "eval"


@pytest.mark.parametrize("name", ["default", "gpu", "openai"])
def test_builtin_pipelines_pass_the_chain_check(name: str) -> None:
    check_chain(load_pipeline(name, [], "/tmp/x"))


def test_a_matching_chain_passes(tmp_path: Path) -> None:
    check_chain(load_pipeline(str(_pipeline(tmp_path, STAGES)), [], str(tmp_path / "run")))


def test_a_mismatched_chain_names_the_stage_and_the_file(tmp_path: Path) -> None:
    stages = [dict(s) for s in STAGES]
    stages[3]["args"] = [a if a != "iopo" else "dpo" for a in stages[3]["args"]]  # DPO on IOPO groups
    run = load_pipeline(str(_pipeline(tmp_path, stages)), [], str(tmp_path / "run"))
    with pytest.raises(InputError) as err:
        check_chain(run)
    msg = str(err.value)
    assert "\n" not in msg
    assert "stage 'train' (train --method dpo) reads" in msg and "groups_iopo.jsonl as PreferencePair" in msg
    assert "stage 'pairs' writes IOPOGroup records there" in msg


def test_dry_run_refuses_a_mismatched_chain_in_one_line(tmp_path: Path) -> None:
    stages = [dict(s) for s in STAGES]
    stages[2]["args"] = ["synth", "pairs", "--format", "sft", "--out", "${run}/data"]  # SFT records
    stages[2]["outputs"] = ["${run}/data/sft.jsonl"]
    stages[3]["inputs"] = ["${run}/data/sft.jsonl"]
    stages[3]["args"] = ["train", "--method", "iopo", "--data", "${run}/data/sft.jsonl", "--out", "o"]
    pipe = _pipeline(tmp_path, stages)
    res = _run(["run", str(pipe), "--dry-run", "--out", str(tmp_path / "run")], tmp_path)
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert "stage 'train'" in lines[0] and "sft.jsonl as IOPOGroup" in lines[0]
    assert "stage 'pairs' writes SFTRecord records there" in lines[0]
    assert not (tmp_path / "run").exists()


def test_dry_run_of_the_default_pipeline_passes(tmp_path: Path) -> None:
    res = _run(["run", "default", "--dry-run", "--out", str(tmp_path / "run")], tmp_path)
    assert res.returncode == 0, res.stderr
    assert "train_iopo" in res.stdout


@pytest.mark.parametrize(
    ("stage", "edit", "needle"),
    [
        (1, ["--temprature", "0.7"], "No such option: --temprature (Possible options: --temperature)"),
        (3, ["max_step=5"], "field 'max_step': Extra inputs are not permitted"),
        (2, ["--n", "0"], "--n: Input should be greater than or equal to 1"),
    ],
)
def test_stage_arguments_are_checked_before_any_stage(
    tmp_path: Path, stage: int, edit: list, needle: str
) -> None:
    stages = [dict(s, args=list(s["args"])) for s in STAGES]
    stages[stage]["args"] += edit
    pipe = _pipeline(tmp_path, stages)
    for extra in (["--dry-run"], []):  # a real run stops before its first stage, too
        p = _run(["run", str(pipe), "--out", str(tmp_path / "run"), *extra], tmp_path)
        assert p.returncode == 2, p.stdout + p.stderr
        err = [x for x in p.stderr.splitlines() if x.strip()]
        assert len(err) == 1 and f"stage '{STAGES[stage]['name']}'" in err[0] and needle in err[0], p.stderr
        assert not (tmp_path / "run" / "data").exists()  # compose never ran


def test_the_chain_table_comes_from_the_configs_declarations() -> None:
    table = stage_records()
    assert table["synth compose"].writes == (("instructions.jsonl", "Instruction"),)
    assert table["synth respond"].reads == ("Instruction", "Conversation")
    assert table["synth respond"].flag == "--instructions"
    assert table["synth pairs --format iopo"].writes == (("groups_iopo.jsonl", "IOPOGroup"),)
    assert table["synth refine"].writes == (
        ("pairs_refine.jsonl", "PreferencePair"),
        ("sft_refine.jsonl", "SFTRecord"),
    )
    assert table["train --method dpo"].reads == ("PreferencePair",)
    assert table["car"].reads == ("Response", "TeacherRow") and table["car"].flag is None
    assert table["eval"].writes == (("samples.jsonl", "EvalSample"),)
