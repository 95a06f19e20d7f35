"""`followkit eval` end to end on the real embedded SmolLM2: result files, and resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def eval_cmd(data: Path, out: Path, limit: int, max_tokens: int = 48) -> list[str]:
    return [
        sys.executable,
        "-m",
        "followkit.cli",
        "eval",
        "--model",
        "embedded",
        "--benchmark",
        f"ifeval:{data}",
        "--limit",
        str(limit),
        "--max-tokens",
        str(max_tokens),
        "--batch-size",
        "2",
        "--out",
        str(out),
    ]


def env_with_cache(path: Path) -> dict[str, str]:
    # A cache file of the test's own, so the runs compared below do not answer each other.
    return {**os.environ, "FOLLOWKIT_CACHE": str(path), "HF_HUB_OFFLINE": "1"}


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def test_eval_embedded_ifeval(shared, tmp_path):
    data = shared / "ifeval" / "input_data.jsonl"
    out = tmp_path / "out"
    proc = subprocess.run(
        eval_cmd(data, out, 4),
        capture_output=True,
        text=True,
        env=env_with_cache(tmp_path / "c.sqlite"),
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "prompt_level_strict_acc" in proc.stdout and "0 from the cache, 4 new, 0 failed" in proc.stdout
    res = json.loads((out / "results.json").read_text())
    block = res["results"]["ifeval"]
    assert block["n"] == 4 and block["inst_level_strict_acc_n"] == sum(
        len(json.loads(r)["instruction_id_list"]) for r in lines(data)[:4]
    )
    assert res["model"] == "SmolLM2-135M-Instruct" and len(res["chat_template_sha256"]) == 64
    assert res["cache"] == {"cached": 0, "new": 4, "failed": 0}
    samples = [json.loads(x) for x in lines(out / "samples.jsonl")]
    assert [s["id"] for s in samples] == ["1000", "1001", "1005", "1012"]
    for s in samples:
        assert s["response"].strip()  # the model answered
        assert len(s["verdicts"]["strict"]) == len(s["constraints"]) == len(s["verdicts"]["loose"])
        # strict implies loose (the response itself is one of the loose variants)
        assert all(
            lv or not sv for sv, lv in zip(s["verdicts"]["strict"], s["verdicts"]["loose"], strict=True)
        )
    # the metric is the mean of the recorded verdicts
    assert block["prompt_level_strict_acc"] == sum(s["followed"]["strict"] for s in samples) / 4
    assert "| ifeval | prompt_level_strict_acc (%) |" in (out / "report.md").read_text()


def test_sigkill_then_rerun_equals_uninterrupted(shared, tmp_path):
    data = shared / "ifeval" / "input_data.jsonl"
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    ref = subprocess.run(
        eval_cmd(data, clean, 6, 32),
        capture_output=True,
        text=True,
        env=env_with_cache(tmp_path / "a.sqlite"),
        timeout=900,
    )
    assert ref.returncode == 0, ref.stderr[-2000:]

    env = env_with_cache(tmp_path / "b.sqlite")
    proc = subprocess.Popen(
        eval_cmd(data, killed, 6, 32), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    deadline = time.time() + 900
    try:
        while len(lines(killed / "samples.jsonl")) < 2:  # the first batch of 2 is in
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.time() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    n_at_kill = len(lines(killed / "samples.jsonl"))
    assert 2 <= n_at_kill < 6
    assert not (killed / "results.json").exists()

    rerun = subprocess.run(
        eval_cmd(data, killed, 6, 32), capture_output=True, text=True, env=env, timeout=900
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    res = json.loads((killed / "results.json").read_text())
    assert res["resumed"] == n_at_kill
    assert res["cache"]["new"] + res["cache"]["cached"] == 6 - n_at_kill
    got = (killed / "samples.jsonl").read_bytes()
    assert got == (clean / "samples.jsonl").read_bytes()
    ids = [json.loads(x)["id"] for x in got.decode().splitlines()]
    assert len(ids) == len(set(ids)) == 6
    assert res["results"] == json.loads((clean / "results.json").read_text())["results"]
