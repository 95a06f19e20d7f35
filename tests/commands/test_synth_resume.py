"""SIGKILL a synthesis stage half way, rerun it: the output equals an uninterrupted run's, no duplicates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# The respond stage runs for real (compose, rules, AppendLog, manifest); only the model is a
# scripted, deliberately slow function, so the kill lands mid-stage at a predictable point.
RESPOND_SCRIPT = r"""
import sys, time, hashlib
from followkit.backends.scripted import ScriptedBackend
from followkit.synth.compose import ComposeConfig, run_compose
from followkit.synth.respond import RespondConfig, run_respond

out = sys.argv[1]
run_compose(ComposeConfig(n=40, seed=3, include=["punctuation:", "change_case:", "keywords:"]), out, progress=False)

def student(chat, i):
    time.sleep(0.02)
    h = hashlib.sha256((chat[-1]["content"] + str(i)).encode()).hexdigest()
    return ["a small cat sleeps", "A Cat, Asleep.", "the cat " + h[:6]][int(h, 16) % 3]

run_respond(RespondConfig(n=3, batch_size=2), out, student=ScriptedBackend(student), progress=False)
"""


def _run(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _lines(p: Path) -> int:
    return len(p.read_bytes().splitlines()) if p.exists() else 0


def _kill_when(proc: subprocess.Popen, path: Path, at_least: int, timeout: float = 120) -> None:
    t0 = time.time()
    while _lines(path) < at_least:
        if proc.poll() is not None:
            pytest.fail(f"stage finished before it could be killed: {proc.stderr.read().decode()[-2000:]}")
        if time.time() - t0 > timeout:
            proc.kill()
            pytest.fail("stage made no progress")
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def _records(p: Path, key: str) -> list[dict]:
    recs = [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines()]
    keys = [r[key] for r in recs]
    assert len(keys) == len(set(keys)), "duplicate records"
    return recs


def test_sigkill_respond_then_rerun_equals_uninterrupted(tmp_path):
    script = tmp_path / "respond_stage.py"
    script.write_text(RESPOND_SCRIPT, encoding="utf-8")
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    p = _run([sys.executable, str(script), str(whole)], tmp_path)
    assert p.wait(timeout=300) == 0, p.stderr.read().decode()[-2000:]

    p = _run([sys.executable, str(script), str(killed)], tmp_path)
    _kill_when(p, killed / "responses.jsonl", 40)
    partial = _lines(killed / "responses.jsonl")
    assert 40 <= partial < 120
    p = _run([sys.executable, str(script), str(killed)], tmp_path)
    assert p.wait(timeout=300) == 0, p.stderr.read().decode()[-2000:]

    a = _records(whole / "responses.jsonl", "key")
    b = _records(killed / "responses.jsonl", "key")
    assert len(a) == 120
    assert b == a
    assert (killed / "responses.jsonl").read_bytes() == (whole / "responses.jsonl").read_bytes()
    man = json.loads((killed / "manifest.json").read_text(encoding="utf-8"))
    assert man["counts"]["responses"] == 120


def test_sigkill_compose_cli_then_rerun_equals_uninterrupted(tmp_path):
    n = "6000"
    cli = [sys.executable, "-m", "followkit.cli", "synth", "compose", "--n", n, "--seed", "5"]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    p = _run([*cli, "--out", str(whole)], tmp_path)
    assert p.wait(timeout=300) == 0, p.stderr.read().decode()[-2000:]

    p = _run([*cli, "--out", str(killed)], tmp_path)
    _kill_when(p, killed / "instructions.jsonl", 1000)
    assert _lines(killed / "instructions.jsonl") < 6000
    p = _run([*cli, "--out", str(killed)], tmp_path)
    assert p.wait(timeout=300) == 0, p.stderr.read().decode()[-2000:]

    assert (killed / "instructions.jsonl").read_bytes() == (whole / "instructions.jsonl").read_bytes()
    _records(killed / "instructions.jsonl", "id")
    man = json.loads((killed / "manifest.json").read_text(encoding="utf-8"))
    assert man["counts"]["instructions"] == 6000 and man["counts"]["resumed"] >= 1000
