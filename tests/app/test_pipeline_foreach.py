"""`foreach` in a pipeline: one stage entry for many models, resolving exactly as the hand-written copies did."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from followkit.core.errors import InputError
from followkit.pipeline import (
    RECORD_DIR,
    PipelineRun,
    builtin_pipelines,
    check_chain,
    dependencies,
    is_fresh,
    load_pipeline,
    stage_hash,
)
from tests.helpers.paths import FIXTURES

HANDWRITTEN = FIXTURES / "pipelines_handwritten"
"""The built-in pipelines as they were before `foreach` (main at 053b043), one stage written per model.

A deliberate change to a built-in pipeline is made to its copy here too, so that the comparison
below keeps proving that `foreach` alone changes nothing."""

OPTIONS = {
    "default": [
        [],
        ["grpo=1", "mix=builtin:general:0.5", "general_judge=embedded", "ifeval=x.jsonl", "ifbench=y.jsonl"],
        ["student=hf:some/model", "eval_limit=5", "ifeval=x.jsonl"],
    ],
    "gpu": [[], ["student=/models/other"]],
    "openai": [[], ["student=hf:some/model", "teacher=openai:other"]],
}


def _resolved(run: PipelineRun) -> list[dict]:
    """Everything the scheduler and the freshness check read of each stage, in the order it sees them."""
    deps = dependencies(run.spec.stages)
    return [
        {
            **s.model_dump(),
            "enabled": s.enabled,
            "waits_for": sorted(deps[s.name]),
            "hash": stage_hash(s),
        }
        for s in run.spec.stages
    ]


def test_the_handwritten_copies_cover_every_builtin() -> None:
    assert (
        sorted(builtin_pipelines()) == sorted(p.stem for p in HANDWRITTEN.glob("*.yaml")) == sorted(OPTIONS)
    )


@pytest.mark.parametrize(("name", "options"), [(n, o) for n, opts in OPTIONS.items() for o in opts])
def test_builtin_pipelines_resolve_as_their_handwritten_copies(
    tmp_path: Path, name: str, options: list[str]
) -> None:
    run_dir = str(tmp_path / "run")
    new = load_pipeline(name, options, run_dir)
    old = load_pipeline(str(HANDWRITTEN / f"{name}.yaml"), options, run_dir)
    assert _resolved(new) == _resolved(old)
    assert new.spec.model_dump(exclude={"stages"}) == old.spec.model_dump(exclude={"stages"})
    check_chain(new)


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_a_run_folder_of_the_handwritten_pipeline_redoes_nothing(tmp_path: Path, name: str) -> None:
    """Every stage finished under the old file (outputs there, record written as `_finish` writes it)
    is fresh under the new one, with its input files' content in the hash."""
    options = OPTIONS[name][-1]
    run_dir = tmp_path / "run"
    old = load_pipeline(str(HANDWRITTEN / f"{name}.yaml"), options, str(run_dir))
    for s in old.spec.stages:
        for out in map(Path, s.outputs):
            if out.suffix:
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(f"written by {s.name}\n")
            else:  # a model folder
                (out / "weights").parent.mkdir(parents=True, exist_ok=True)
                (out / "weights").write_text(f"written by {s.name}\n")
    for s in old.spec.stages:
        rec = run_dir / RECORD_DIR / f"{s.name}.json"
        rec.parent.mkdir(parents=True, exist_ok=True)
        rec.write_text(json.dumps({"stage": s.name, "hash": stage_hash(s), "args": s.args}))
    new = load_pipeline(name, options, str(run_dir))
    assert [s.name for s in new.spec.stages] == [s.name for s in old.spec.stages]
    assert all(is_fresh(new, s) for s in new.spec.stages)
    assert all(is_fresh(old, s) for s in old.spec.stages)


def test_builtin_pipelines_got_shorter() -> None:
    for name in ("default", "gpu"):
        new = builtin_pipelines()[name].read_text().splitlines()
        old = (HANDWRITTEN / f"{name}.yaml").read_text().splitlines()
        assert len(new) < len(old), name


def _pipeline(tmp: Path, stages: list[dict], vars_: dict | None = None) -> Path:
    p = tmp / "pipe.yaml"
    p.write_text(yaml.safe_dump({"name": "t", "vars": vars_ or {}, "stages": stages}, sort_keys=False))
    return p


TRAIN = {
    "name": "train",
    "args": ["verify", "t"],
    "outputs": ["${run}/train/sft/merged", "${run}/train/dpo/merged"],
}
EVAL_EACH = {
    "name": "eval_${m}",
    "foreach": [
        {"m": "baseline", "model": "${student}"},
        {"m": "sft", "model": "hf:${run}/train/sft/merged"},
        {"m": "dpo", "model": "hf:${run}/train/dpo/merged"},
    ],
    "args": ["eval", "--model", "${model}", "--out", "${run}/eval/${m}"],
    "outputs": ["${run}/eval/${m}/results.json"],
    "when": "${on}",
}


def test_a_list_of_mappings_varies_two_values_and_overrides_reach_them(tmp_path: Path) -> None:
    pipe = _pipeline(tmp_path, [TRAIN, EVAL_EACH], {"student": "embedded", "on": "yes"})
    run = load_pipeline(str(pipe), ["student=hf:other"], str(tmp_path / "run"))
    r = str(tmp_path / "run")
    assert [(s.name, s.args[2], s.outputs, s.when) for s in run.spec.stages[1:]] == [
        ("eval_baseline", "hf:other", [f"{r}/eval/baseline/results.json"], "yes"),
        ("eval_sft", f"hf:{r}/train/sft/merged", [f"{r}/eval/sft/results.json"], "yes"),
        ("eval_dpo", f"hf:{r}/train/dpo/merged", [f"{r}/eval/dpo/results.json"], "yes"),
    ]


def test_after_and_inputs_from_name_a_stage_or_a_whole_foreach_entry(tmp_path: Path) -> None:
    stages = [
        TRAIN,
        EVAL_EACH,
        {"name": "note_${m}", "foreach": {"m": ["sft", "dpo"]}, "args": ["verify", "${m}"], "after": ["eval_${m}"]},
        {"name": "last", "args": ["report", "${run}"], "inputs": ["${run}/x.json"],
         "inputs_from": ["eval_${m}", "train"], "after": ["note_${m}"], "outputs": ["${run}/report.html"]},
    ]  # fmt: skip
    run = load_pipeline(
        str(_pipeline(tmp_path, stages, {"student": "s", "on": ""})), [], str(tmp_path / "run")
    )
    by = {s.name: s for s in run.spec.stages}
    r = str(tmp_path / "run")
    assert by["note_sft"].after == ["eval_sft"] and by["note_dpo"].after == ["eval_dpo"]
    assert by["last"].after == ["note_sft", "note_dpo"]
    assert by["last"].inputs == [
        f"{r}/x.json",
        *(f"{r}/eval/{m}/results.json" for m in ("baseline", "sft", "dpo")),
        f"{r}/train/sft/merged",
        f"{r}/train/dpo/merged",
    ]
    assert dependencies(run.spec.stages)["last"] == {
        "train", "eval_baseline", "eval_sft", "eval_dpo", "note_sft", "note_dpo"
    }  # fmt: skip


ONE = {"name": "eval_${m}", "foreach": {"m": ["sft", "dpo"]}, "args": ["verify", "${run}/${m}"]}


@pytest.mark.parametrize(
    ("stages", "field", "needle"),
    [
        ([dict(ONE, args=["verify", "${mm}"])], "args",
         "stage 'eval_${m}' uses ${mm}, which is in neither vars nor its foreach (m)"),
        ([dict(ONE, name="eval_${x}")], "name", "stage 'eval_${x}' uses ${x}, which is not a foreach variable"),
        ([dict(ONE, foreach={"m": []})], "foreach", "stage 'eval_${m}': foreach has no items"),
        ([dict(ONE, foreach=[])], "foreach", "stage 'eval_${m}': foreach has no items"),
        ([dict(ONE, name="eval")], "name", "two stages are named 'eval': 'eval' with m=sft and 'eval' with m=dpo"),
        ([dict(ONE, foreach={"m": ["sft", "sft"]})], "name", "two stages are named 'eval_sft'"),
        ([{"name": "eval_sft", "args": ["verify", "x"]}, ONE], "name",
         "two stages are named 'eval_sft': 'eval_sft' and 'eval_${m}' with m=sft"),
        ([ONE, ONE], "name", "two stages are written as 'eval_${m}'"),
        ([{"name": "a", "args": ["verify", "x"]}, {"name": "a", "args": ["verify", "y"]}], "name",
         "two stages are named 'a'"),
        ([dict(ONE, foreach={"seed": ["1"]}, name="e_${seed}", args=["verify", "${seed}"])], "foreach",
         "foreach variable 'seed' is also in vars"),
        ([dict(ONE, foreach={"m": ["a"], "n": ["b"]})], "foreach", "foreach takes {VAR: [values]} or a list of mappings"),
        ([dict(ONE, foreach={"m": "sft"})], "foreach", "not {m: str}"),
        ([dict(ONE, foreach=[{"m": "a", "x": "1"}, {"m": "b"}], args=["verify", "${x}"])], "foreach", "foreach item 2 sets m, item 1 sets m, x"),
        ([dict(ONE, foreach=[{"m": "a", "x": "1"}])], "foreach", "foreach variable 'x' is used nowhere in the stage"),
        ([dict(ONE, foreach={"m": ["a", None]})], "foreach", "foreach item 2: m must be a plain value, not NoneType"),
        ([dict(ONE, foreach={"m": ["${nope}"]})], "foreach", "foreach item 1: m uses ${nope}, which is not in vars"),
        ([dict(ONE, foreach={"m": ["a b"]})], "name", "stage 'eval_${m}' with m=a b is named 'eval_a b'"),
        ([dict(ONE, foreach=None)], "name", "stage 'eval_${m}': its name uses ${m}, but it has no foreach"),
        ([ONE, {"name": "r", "args": ["verify", "x"], "after": ["evl_${m}"]}], "after",
         "stage 'r' runs after 'evl_${m}', which is not an earlier stage (did you mean 'eval_${m}'?)"),
        ([{"name": "r", "args": ["verify", "x"], "after": ["eval_${m}"]}, ONE], "after",
         "stage 'r' runs after 'eval_${m}', which is not an earlier stage"),
        ([ONE, {"name": "r", "args": ["verify", "x"], "inputs_from": ["eval_${m}"]}], "inputs_from",
         "stage 'r' reads the outputs of 'eval_sft', which declares none"),
    ],
)  # fmt: skip
def test_a_bad_foreach_is_one_line_naming_file_stage_and_field(
    tmp_path: Path, stages: list[dict], field: str, needle: str
) -> None:
    pipe = _pipeline(tmp_path, stages, {"seed": 7})
    with pytest.raises(InputError) as err:
        load_pipeline(str(pipe), [], str(tmp_path / "run"))
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"{pipe}: field '{field}': "), msg
    assert needle in msg, msg


def test_the_cli_refuses_a_bad_foreach_with_exit_2_and_dry_runs_a_good_one(tmp_path: Path) -> None:
    def cli(pipe: Path) -> subprocess.CompletedProcess:
        argv = ["run", str(pipe), "--dry-run", "--out", str(tmp_path / "run")]
        return subprocess.run(
            [sys.executable, "-m", "followkit.cli", *argv], capture_output=True, text=True, timeout=120
        )

    bad = cli(_pipeline(tmp_path, [dict(ONE, foreach={"m": []})]))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    lines = [ln for ln in bad.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "field 'foreach': stage 'eval_${m}': foreach has no items" in lines[0]
    good = cli(_pipeline(tmp_path, [dict(ONE, args=["verify", "${run}/${m}.jsonl"])]))
    assert good.returncode == 0, good.stderr
    assert "eval_sft" in good.stdout and "eval_dpo" in good.stdout
