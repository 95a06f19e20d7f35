"""Usage errors are one line on stderr with exit 2 (typer 0.29 ships its own click), and --version works."""

from __future__ import annotations

import subprocess
import sys

import pytest

from followkit import __version__


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "followkit.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_version():
    p = _run("--version")
    assert p.returncode == 0 and p.stdout.strip() == __version__


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["verify"], "missing argument FILE"),
        (["eval"], "missing --benchmark/-b"),
        (["verify", "--no-such-flag", "x.jsonl"], "No such option: --no-such-flag"),
        (["nosuchcmd"], "No such command 'nosuchcmd'"),
        (["synth"], "Missing command"),
        (["eval", "--limit", "abc"], "Invalid value for '--limit'"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args, needle):
    p = _run(*args)
    assert p.returncode == 2, p.stderr
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], p.stderr
    assert "Traceback" not in p.stderr
