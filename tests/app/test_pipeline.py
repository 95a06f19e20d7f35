"""`followkit run`: stages are skipped when unchanged, redone when their inputs change, resumed after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from followkit.commands.run import check_stage_args
from followkit.core.errors import FollowkitError, InputError
from followkit.pipeline import load_pipeline, run_pipeline

ROWS = [
    {
        "key": 1,
        "prompt": "Write without commas.",
        "instruction_id_list": ["punctuation:no_comma"],
        "kwargs": [{}],
        "response": "No commas here.",
    },
    {
        "key": 2,
        "prompt": "Write in lowercase.",
        "instruction_id_list": ["change_case:english_lowercase"],
        "kwargs": [{}],
        "response": "Not Lowercase.",
    },
]


def _write_pipeline(tmp: Path, stages: list[dict], vars_: dict | None = None) -> Path:
    p = tmp / "pipe.yaml"
    p.write_text(yaml.safe_dump({"name": "t", "vars": vars_ or {}, "stages": stages}))
    return p


@pytest.fixture()
def verify_pipeline(tmp_path: Path) -> tuple[Path, Path, Path]:
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    pipe = _write_pipeline(
        tmp_path,
        [
            {
                "name": "verify",
                "args": ["verify", "${data}", "--out", "${run}/v"],
                "inputs": ["${data}"],
                "outputs": ["${run}/v/results.json"],
            },
            {
                "name": "verify_again",
                "args": ["verify", "${run}/v/../../rows.jsonl", "--out", "${run}/w", "--mode", "strict"],
                "outputs": ["${run}/w/results.json"],
            },
        ],
        {"data": str(data)},
    )
    return pipe, data, tmp_path / "run"


def _statuses(run_dir: Path) -> dict[str, str]:
    return {
        r["stage"]: r["status"] for r in json.loads((run_dir / ".pipeline" / "last_run.json").read_text())
    }


def test_rerun_skips_unchanged_and_redoes_changed(verify_pipeline) -> None:
    pipe, data, run_dir = verify_pipeline
    run_pipeline(load_pipeline(str(pipe), [], str(run_dir)), log=lambda m: None)
    assert _statuses(run_dir) == {"verify": "done", "verify_again": "done"}
    first = json.loads((run_dir / "v" / "results.json").read_text())

    run_pipeline(load_pipeline(str(pipe), [], str(run_dir)), log=lambda m: None)
    assert _statuses(run_dir) == {"verify": "skipped", "verify_again": "skipped"}

    # Change the input file: only the stage that declares it is redone.
    rows = [dict(ROWS[0]), dict(ROWS[1], response="all lowercase now.")]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run_pipeline(load_pipeline(str(pipe), [], str(run_dir)), log=lambda m: None)
    assert _statuses(run_dir) == {"verify": "done", "verify_again": "skipped"}
    second = json.loads((run_dir / "v" / "results.json").read_text())
    assert first != second

    # Deleting an output makes its stage stale again.
    (run_dir / "w" / "results.json").unlink()
    run_pipeline(load_pipeline(str(pipe), [], str(run_dir)), log=lambda m: None)
    assert _statuses(run_dir) == {"verify": "skipped", "verify_again": "done"}


def test_override_changes_args_and_unknown_var_is_an_error(tmp_path: Path) -> None:
    pipe = _write_pipeline(tmp_path, [{"name": "a", "args": ["verify", "${missing}"]}])
    with pytest.raises(InputError, match=r"\$\{missing\}"):
        load_pipeline(str(pipe), [], str(tmp_path / "run"))
    run = load_pipeline(str(pipe), ["missing=x.jsonl"], str(tmp_path / "run"))
    assert run.spec.stages[0].args == ["verify", "x.jsonl"]


def test_failed_stage_keeps_finished_ones(tmp_path: Path, verify_pipeline) -> None:
    pipe, data, run_dir = verify_pipeline
    spec = yaml.safe_load(pipe.read_text())
    spec["stages"].append(
        {"name": "broken", "args": ["verify", str(tmp_path / "nope.jsonl"), "--out", "${run}/x"]}
    )
    pipe.write_text(yaml.safe_dump(spec))
    proc = subprocess.run(
        [sys.executable, "-m", "followkit.cli", "run", str(pipe), "--out", str(run_dir)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "stage 'broken' failed" in proc.stderr
    assert _statuses(run_dir) == {"verify": "done", "verify_again": "done", "broken": "failed"}
    assert (run_dir / "v" / "results.json").exists()


def test_builtin_pipelines_resolve() -> None:
    for name in ("default", "gpu", "openai"):
        run = load_pipeline(name, [], "/tmp/x")
        assert [s.name for s in run.spec.stages][:2] == ["eval_baseline", "compose"]
        assert all("${" not in a for s in run.spec.stages for a in s.args)
        check_stage_args(run)  # every stage's flags and settings (the gpu recipe once failed here)


def test_builtin_pipelines_check_with_every_option_on() -> None:
    opts = [
        "grpo=1",
        "mix=builtin:general:0.5",
        "general_judge=embedded",
        "ifeval=x.jsonl",
        "ifbench=y.jsonl",
    ]
    run = load_pipeline("default", opts, "/tmp/x")
    on = {s.name for s in run.spec.stages if s.enabled}
    assert {"train_grpo", "ifeval_sft", "ifbench_iopo", "winrate_sft"} <= on
    check_stage_args(run)


def test_default_training_pool_holds_no_ifbench_constraint(shared: Path) -> None:
    """IFBench measures constraints never seen in training, as its authors keep them apart."""
    from followkit.core.io import iter_jsonl
    from followkit.synth.compose import ComposeConfig, composer_from_config

    run = load_pipeline("default", [], "/tmp/x")
    (compose,) = [s for s in run.spec.stages if s.name == "compose"]
    args = compose.args[2:]
    flags = {a: args[i + 1] for i, a in enumerate(args) if a.startswith("--") and i + 1 < len(args)}
    cfg = ComposeConfig(
        n=1,
        seeds=flags["--seeds"],
        k=flags["--k"],
        repairable="--repairable" in args,
        phrasing=flags["--phrasing"],
        placement=flags["--placement"],
    )
    pool = {cid for ids in composer_from_config(cfg).pools.values() for cid in ids}
    ifbench_ids = {
        c for _, r in iter_jsonl(shared / "ifbench" / "IFBench_test.jsonl") for c in r["instruction_id_list"]
    }
    assert len(ifbench_ids) >= 50 and len(pool) >= 30
    assert not pool & ifbench_ids
    assert "--split" in " ".join(a for s in run.spec.stages if s.name == "ifeval_sft" for a in s.args)


@pytest.mark.slow
def test_kill_during_training_then_rerun_skips_finished(tmp_path: Path) -> None:
    sft = tmp_path / "sft.jsonl"
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Say the number {i} in lowercase words."},
                {"role": "assistant", "content": f"the number is {i}."},
            ]
        }
        for i in range(8)
    ]
    sft.write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    pipe = _write_pipeline(
        tmp_path,
        [
            {
                "name": "verify",
                "args": ["verify", str(data), "--out", "${run}/v"],
                "inputs": [str(data)],
                "outputs": ["${run}/v/results.json"],
            },
            {
                "name": "train",
                "args": [
                    "train",
                    "--method",
                    "sft",
                    "--model",
                    "embedded",
                    "--data",
                    str(sft),
                    "--out",
                    "${run}/t",
                    "max_steps=6",
                    "save_steps=2",
                ],
                "inputs": [str(sft)],
                "outputs": ["${run}/t/merged"],
            },
        ],
    )
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "followkit.cli", "run", str(pipe), "--out", str(run_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    record = run_dir / ".pipeline" / "verify.json"
    deadline = time.time() + 300
    while time.time() < deadline and not (run_dir / "t" / "log.jsonl").exists():
        time.sleep(0.5)
    assert record.exists(), "the verify stage should have finished before training started"
    os.killpg(proc.pid, signal.SIGKILL)  # kill the pipeline and the training subprocess
    proc.wait()
    assert not (run_dir / ".pipeline" / "train.json").exists()
    mtime = record.stat().st_mtime
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _statuses(run_dir) == {"verify": "skipped", "train": "done"}
    assert record.stat().st_mtime == mtime
    assert (run_dir / "t" / "merged").exists()


_TIMED = (
    "import json, sys, time; t0 = time.time(); time.sleep(1.0); "
    "open(sys.argv[2], 'w').write(json.dumps([t0, time.time()]))"
)


def test_independent_stages_run_side_by_side_and_dependents_wait(tmp_path: Path) -> None:
    from followkit.pipeline import dependencies

    stage = lambda name, out, inputs=(): {  # noqa: E731
        "name": name,
        "args": [out],
        "inputs": list(inputs),
        "outputs": [out],
        "launcher": [sys.executable, "-c", _TIMED],
    }
    run_dir = tmp_path / "run"
    a, b, c = (str(run_dir / f"{x}.json") for x in "abc")
    pipe = _write_pipeline(tmp_path, [stage("a", a), stage("b", b), stage("c", c, [a, b])])
    pipe_run = load_pipeline(str(pipe), [], str(run_dir))
    assert dependencies(pipe_run.spec.stages) == {"a": set(), "b": set(), "c": {"a", "b"}}
    run_pipeline(pipe_run, log=lambda m: None, jobs=2)
    (a0, a1), (b0, b1), (c0, _) = (json.loads(Path(x).read_text()) for x in (a, b, c))
    assert a0 < b1 and b0 < a1  # a and b overlapped
    assert c0 >= max(a1, b1)  # c waited for both
    assert (run_dir / "logs" / "a.log").exists()  # side by side, each stage logs to its own file
    assert _statuses(run_dir) == {"a": "done", "b": "done", "c": "done"}


def test_a_failed_stage_stops_its_dependents_but_not_its_neighbours(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    ok = str(run_dir / "ok.json")
    pipe = _write_pipeline(
        tmp_path,
        [
            {"name": "bad", "args": ["verify", str(tmp_path / "missing.jsonl"), "--out", "${run}/v"],
             "outputs": ["${run}/v/results.json"]},
            {"name": "good", "args": [ok], "outputs": [ok], "launcher": [sys.executable, "-c", _TIMED]},
            {"name": "after_bad", "args": ["verify", "x"], "inputs": ["${run}/v/results.json"], "outputs": ["y"]},
        ],
    )  # fmt: skip
    with pytest.raises(FollowkitError, match="stage 'bad' failed"):
        run_pipeline(load_pipeline(str(pipe), [], str(run_dir)), log=lambda m: None, jobs=2)
    assert _statuses(run_dir) == {"bad": "failed", "good": "done"}
    assert Path(ok).exists()


def test_when_turns_a_stage_off(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    out = str(run_dir / "x.json")
    pipe = _write_pipeline(
        tmp_path,
        [{"name": "opt", "args": [out], "outputs": [out], "when": "${ood}", "launcher": [sys.executable, "-c", _TIMED]}],
        {"ood": ""},
    )  # fmt: skip
    run_pipeline(load_pipeline(str(pipe), [], str(run_dir)), log=lambda m: None)
    assert _statuses(run_dir) == {"opt": "off"} and not Path(out).exists()
    run_pipeline(load_pipeline(str(pipe), ["ood=some/file.jsonl"], str(run_dir)), log=lambda m: None)
    assert _statuses(run_dir) == {"opt": "done"} and Path(out).exists()


def test_a_stage_reading_its_own_output_is_refused(tmp_path: Path) -> None:
    out = str(tmp_path / "run" / "x.jsonl")
    pipe = _write_pipeline(
        tmp_path, [{"name": "loop", "args": ["verify", out], "inputs": [out], "outputs": [out]}]
    )
    with pytest.raises(InputError, match="stage 'loop' reads its own output"):
        load_pipeline(str(pipe), [], str(tmp_path / "run"))


def test_two_stages_writing_one_file_are_refused(tmp_path: Path) -> None:
    out = "${run}/data/pairs.jsonl"
    stages = [
        {"name": "first", "args": ["verify", "a"], "outputs": [out]},
        {"name": "second", "args": ["verify", "b"], "outputs": [out]},
    ]
    pipe = _write_pipeline(tmp_path, stages)
    with pytest.raises(InputError, match="stages 'first' and 'second' both write"):
        load_pipeline(str(pipe), [], str(tmp_path / "run"))
    # a stage that is off writes nothing, so it takes no file from another
    stages[1]["when"] = ""
    load_pipeline(str(_write_pipeline(tmp_path, stages)), [], str(tmp_path / "run"))
