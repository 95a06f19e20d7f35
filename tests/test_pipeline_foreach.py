"""`foreach` in a pipeline: one stage entry for many models, resolving exactly as the hand-written copies did."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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

HANDWRITTEN = Path(__file__).parent / "fixtures" / "pipelines_handwritten"
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
    assert sorted(builtin_pipelines()) == sorted(p.stem for p in HANDWRITTEN.glob("*.yaml")) == sorted(OPTIONS)


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
