"""followkit.core.settings: flags and help generated from config models, one loader for every command."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
import typer
from pydantic import BaseModel, ConfigDict, Field, model_validator
from typer.main import get_command
from typer.testing import CliRunner

from followkit.cli import main
from followkit.commands import app
from followkit.commands import register_commands as _register_commands
from followkit.core.errors import InputError
from followkit.core.settings import Cache, RefreshCache, cli, config_command, load_settings, option_parameters


class Toy(BaseModel):
    """A config model with each kind of field the generator handles."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="A required name", json_schema_extra=cli("--name", "-n"))
    steps: int = Field(7, ge=1, description="How many steps")
    rate: float | None = Field(None, description="A rate")
    mode: str = Field("fast", description="fast or slow")
    tags: list[str] = Field(default_factory=lambda: ["a"], description="Tags", json_schema_extra=cli("--tag"))
    extra: dict[str, int] = Field(default_factory=dict, description="Config file only")
    cache: Cache = True
    refresh_cache: RefreshCache = False

    @model_validator(mode="after")
    def _check(self) -> Toy:
        if self.mode not in ("fast", "slow"):
            raise ValueError(f"mode must be fast or slow, got {self.mode!r}")
        return self


def _toy_app() -> tuple[typer.Typer, list[Toy]]:
    seen: list[Toy] = []
    toy = typer.Typer()

    @config_command(toy, "go", Toy, overrides_as_arguments=True)
    def go(cfg: Toy) -> None:
        """Run the toy."""
        seen.append(cfg)

    @toy.command("other")
    def other() -> None:
        """A second command, so that `go` is a sub-command."""

    return toy, seen


def test_flags_and_help_come_from_the_model():
    toy, _ = _toy_app()
    cmd = get_command(toy).commands["go"]  # type: ignore[attr-defined]
    opts = {p.name: p for p in cmd.params}
    assert set(opts) == {"name", "steps", "rate", "mode", "tags", "cache", "refresh_cache"} | {
        "config",
        "set_",
        "overrides",
    }  # the dict field has no flag: config file and --set only
    assert opts["name"].opts == ["--name", "-n"] and opts["tags"].opts == ["--tag"]
    assert opts["cache"].secondary_opts == ["--no-cache"] and not opts["refresh_cache"].secondary_opts
    # No default is written twice: every flag's own default is None ("not given").
    assert all(opts[f].default is None for f in ("steps", "rate", "mode", "tags", "cache", "name"))
    out = CliRunner().invoke(toy, ["go", "--help"], terminal_width=200).output
    assert "How many steps (default: 7)" in out and "Tags (default: a)" in out
    assert "A required name (required)" in out and "(default: on)" in out


def test_layers_defaults_file_flags_set(tmp_path: Path):
    toy, seen = _toy_app()
    cfg = tmp_path / "toy.yaml"
    cfg.write_text("name: from-file\nsteps: 3\nrate: 0.5\ntags: [x, y]\n")
    r = CliRunner().invoke(toy, ["go", "--config", str(cfg), "--steps", "4", "--set", "rate=0.25", "tags=z"])
    assert r.exit_code == 0, r.output
    got = seen[-1]
    assert (got.name, got.steps, got.rate, got.mode) == ("from-file", 4, 0.25, "fast")
    assert got.tags == ["z"]  # a list override replaces the file's list
    r = CliRunner().invoke(toy, ["go", "-n", "x", "--tag", "p", "tags=q", "tags=r", "--no-cache"])
    assert r.exit_code == 0, r.output
    assert seen[-1].tags == ["p", "q", "r"] and seen[-1].cache is False  # overrides add to the flags
    r = CliRunner().invoke(toy, ["go", "-n", "x", "--config", str(cfg), "tags="])
    assert r.exit_code == 0 and seen[-1].tags == []  # `key=` empties a list


@pytest.mark.parametrize(
    ("file_text", "args", "expected"),
    [
        (
            "name: a\nsteps: 0\n",
            [],
            r"toy\.yaml:2: field 'steps': Input should be greater than or equal to 1",
        ),
        ("name: a\n\nbogus: 1\n", [], r"toy\.yaml:3: field 'bogus': Extra inputs are not permitted"),
        ("name: a\n", ["--steps", "0"], r"^--steps: Input should be greater than or equal to 1$"),
        ("", [], r"^missing --name/-n \(give it on the command line or in --config\)$"),
        ("name: a\n", ["--set", "extra.k=notanint"], r"^field 'extra\.k': "),
        ("name: a\n", ["--set", "nosuch=1"], r"^field 'nosuch': Extra inputs are not permitted$"),
        ("name: a\nmode: odd\n", [], r"^mode must be fast or slow, got 'odd'$"),
    ],
)
def test_errors_name_where_the_value_came_from(tmp_path: Path, file_text: str, args: list, expected: str):
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(file_text)
    flags = {"steps": int(args[1])} if args[:1] == ["--steps"] else {}
    sets = [args[1]] if args[:1] == ["--set"] else []
    with pytest.raises(InputError, match=expected):
        load_settings(Toy, cfg, sets, flags)


def test_refresh_without_cache_is_refused_for_every_command():
    with pytest.raises(InputError, match=r"^--refresh-cache and --no-cache cannot be combined$"):
        load_settings(Toy, flags={"name": "a", "cache": False, "refresh_cache": True})
    from followkit.synth.respond import RespondConfig

    with pytest.raises(InputError, match="cannot be combined"):
        load_settings(RespondConfig, overrides=["cache=false", "refresh_cache=true"])


# --- every command that has settings ---------------------------------------------------------

COMMANDS = {
    "eval": ["eval", "-b", "ifeval"],
    "train": ["train", "--method", "sft", "--data", "d.jsonl"],
    "synth compose": ["synth", "compose"],
    "synth expand": ["synth", "expand"],
    "synth respond": ["synth", "respond"],
    "synth refine": ["synth", "refine"],
    "synth pairs": ["synth", "pairs"],
    "sprig": ["sprig"],
    "car": ["car", "-t", "a=a.jsonl"],
    "winrate": ["winrate", "--responses", "a.jsonl", "--baseline", "b.jsonl", "--judge", "embedded"],
    "verify": ["verify", "x.jsonl"],
    "compare": ["compare", "a", "b"],
}
"""Each command built by config_command, with the arguments it needs besides the output folder."""


def _command(path: str):
    _register_commands()
    cmd = get_command(app)
    for part in path.split():
        cmd = cmd.commands[part]  # type: ignore[attr-defined]
    return cmd


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_command_reads_settings_one_way(path: str):
    cmd = _command(path)
    names = {p.name for p in cmd.params}
    assert {"config", "set_"} <= names, f"{path} lacks --config/--set"
    fixed = {"config", "set_", "overrides", "out", "resume"}
    # Every setting flag defaults to None: its default lives in the config model alone.
    assert [p.name for p in cmd.params if p.name not in fixed and p.default is not None] == []


BAD_TYPE_FIELD = {"verify": "workers", "car": "beta"}
"""A numeric setting of each command (seed where it has one) to give a list."""


@pytest.mark.parametrize("path", sorted(COMMANDS))
@pytest.mark.parametrize("kind", ["unknown-key", "bad-type", "bad-set", "bad-yaml-set", "huge-set"])
def test_bad_settings_are_one_line_exit_2(tmp_path: Path, capsys, path: str, kind: str):
    field = "no_such_setting" if kind == "unknown-key" else BAD_TYPE_FIELD.get(path, "seed")
    cfg = tmp_path / "settings.yaml"
    cfg.write_text(f"# settings\n{field}: {'1' if kind == 'unknown-key' else '[1, 2]'}\n")
    out = tmp_path / "out"
    args = [*COMMANDS[path], "--out", str(out)]
    sets = {"bad-set": "no_such_setting=1", "bad-yaml-set": "seed=[1", "huge-set": "seed=" + "9" * 5000}
    args += ["--set", sets[kind]] if kind in sets else ["--config", str(cfg)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    if kind == "bad-set":
        assert "field 'no_such_setting'" in err, err
    elif kind in sets:  # a value YAML cannot read: named, not a traceback
        assert err.startswith("error: field 'seed': ") and len(err) < 200, err
    else:
        assert f"{cfg}:2: field '{field}'" in err, err
        if kind == "bad-type":
            assert "Extra inputs" not in err, err  # the field exists: its type is what is wrong
    assert not out.exists()  # nothing written before the settings are valid


def test_panels_group_flags_and_must_name_fields():
    class Grouped(Toy):
        CLI_PANELS: ClassVar[dict[str, tuple[str, ...]]] = {"Speed": ("steps", "rate")}

    panels = {p.name: p.default.rich_help_panel for p in option_parameters(Grouped)}
    assert panels["steps"] == panels["rate"] == "Speed" and panels["name"] is None

    class Misspelt(Toy):
        CLI_PANELS: ClassVar[dict[str, tuple[str, ...]]] = {"Speed": ("stepz",)}

    with pytest.raises(TypeError, match="stepz"):
        option_parameters(Misspelt)


CONFIG_FILES = {
    "folder": None,
    "not-utf8": b"seed: \xff\xfe\n",
    "bad-yaml": b"seed: [1, 2\n",
    "top-level-list": b"- a\n- b\n",
    "deep-nesting": b"seed: " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "huge-integer": b"seed: " + b"9" * 5000 + b"\n",
    "duplicate-key": b"seed: 1\nseed: 2\n",
    "list-key": b"? [a, b]\n: 1\n",
    "mapping-value": b"seed: {a: 1}\n",
    "surrogate": b'seed: "\\ud800"\n',
    "missing": None,
}
"""Config files no command may answer with a traceback."""


@pytest.mark.parametrize("path", ["eval", "synth respond", "train"])
@pytest.mark.parametrize("kind", sorted(CONFIG_FILES))
def test_unreadable_config_files_are_one_line(tmp_path: Path, capsys, path: str, kind: str):
    cfg = tmp_path / "settings.yaml"
    if kind == "folder":
        cfg.mkdir()
    elif CONFIG_FILES[kind] is not None:
        cfg.write_bytes(CONFIG_FILES[kind])
    out = tmp_path / "out"
    assert main([*COMMANDS[path], "--out", str(out), "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and str(cfg) in err, err
    assert not out.exists()
