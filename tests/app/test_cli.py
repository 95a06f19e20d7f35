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


# --- the command registry (followkit.commands.COMMANDS) ----------------------------------------


def test_every_command_module_has_its_line_in_the_registry():
    import pkgutil

    import followkit.commands as commands

    modules = sorted(m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_"))
    assert list(commands.COMMANDS._builtins) == modules


def test_a_plugin_command_from_the_environment_runs_and_a_typo_is_refused(tmp_path):
    import os

    (tmp_path / "fk_hello_cmd.py").write_text(
        "import typer\n\n\ndef register(app):\n"
        "    @app.command()\n    def hello(name: str = 'world'):\n"
        "        '''Say hello.'''\n        typer.echo(f'hello {name}')\n"
    )
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "FOLLOWKIT_COMMANDS": "hello=fk_hello_cmd:register"}
    run = [sys.executable, "-m", "followkit.cli"]
    p = subprocess.run([*run, "hello", "--name", "you"], capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0 and p.stdout.strip() == "hello you"
    env["FOLLOWKIT_COMMANDS"] = "hello=fk_hello_cmd:regster"
    p = subprocess.run([*run, "--help"], capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 2 and len(p.stderr.splitlines()) == 1
    assert p.stderr.startswith("error: command 'hello' is not available (fk_hello_cmd:regster")


def test_command_registry_is_frozen_after_registration():
    from followkit.commands import COMMANDS, register_commands
    from followkit.core.errors import InputError

    register_commands()
    assert COMMANDS.frozen and "verify" in COMMANDS
    with pytest.raises(InputError, match=r"unknown command 'verfy' \(did you mean verify\?\)"):
        COMMANDS.get("verfy")
    with pytest.raises(InputError, match="command registry is frozen: cannot register 'late'"):
        COMMANDS.register("late", "json:dumps")
