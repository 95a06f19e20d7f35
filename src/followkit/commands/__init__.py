"""CLI sub-commands and their registry: the Typer app, each module's register(app), and the check of a
command line without running it (`followkit run` checks every stage this way first).

Each module here defines register(app), has one line in COMMANDS, and stays thin over the library;
followkit.cli is only the entry point.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import typer

from followkit.core.registry import Registry

app = typer.Typer(
    name="followkit",
    help=(
        "Make language models follow complex, multi-constraint instructions, and measure it.\n\n"
        "Stages pass typed JSONL records (followkit.core.records): synth compose -> Instruction -> synth respond "
        "-> Response -> synth pairs / refine -> PreferencePair (dpo), IOPOGroup (iopo), SFTRecord (sft) "
        "-> train --method of the same name; eval writes EvalSample rows (samples.jsonl) for report and "
        "compare; car reads each teacher's Response file as a TeacherSet.\n\n"
        "Every reader checks each row before any model call and names file:line:field on error; "
        "duplicate ids and empty files are refused. Rows in IFEval/IFBench, TRACE, AlpacaEval, bare "
        "prompt/messages or TRL conversational shape come in through one adapter each. "
        "`followkit run --dry-run` checks that each pipeline stage reads the record type its producer writes.\n\n"
        "Settings: each command's options are the fields of one config model (followkit.core.settings), so a "
        "default is written once and shown in --help. --config FILE (YAML, the same field names) and "
        "--set key=value layer as: defaults < file < flags < --set; errors name the file and field or the flag."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


COMMANDS: Registry[Callable[[typer.Typer], None]] = Registry(
    "command",
    {
        name: f"followkit.commands.{name}:register"
        for name in (
            *("car", "compare", "constraints", "eval", "export", "report"),
            *("run", "sprig", "synth", "train", "verify", "winrate"),
        )
    },
    base=Callable,
    group="followkit.commands",
    env="FOLLOWKIT_COMMANDS",
)
"""Command module -> its register(app), built-ins first, then plugins: entry points of group
followkit.commands and the comma-separated `name=module:attr` items of FOLLOWKIT_COMMANDS."""

_registered = False


def register_commands() -> None:
    """Import every command module once and add its commands to the app."""
    # Modules import their heavy dependencies (torch, transformers) inside the command bodies, so
    # --help stays fast.
    global _registered
    if _registered:  # once per process: main() and check_args() both call this
        return
    _registered = True
    for name in COMMANDS:
        COMMANDS.get(name)(app)


@functools.cache
def _click_app() -> Any:
    """The click command tree of the registered app, built once."""
    from typer.main import get_command

    return get_command(app)


def check_args(args: list[str]) -> None:
    """Parse a followkit command line and build its settings without running it (InputError if bad).

    `followkit run` checks every stage this way first, so a misspelt flag in a pipeline's last stage
    fails before the first stage spends its minutes.
    """
    from followkit.core.errors import InputError
    from followkit.core.settings import load_settings

    register_commands()
    cmd, rest, parent, name = _click_app(), list(args), None, "followkit"
    try:
        while True:
            ctx = cmd.make_context(name, rest, parent=parent)
            if not hasattr(cmd, "resolve_command"):
                break
            left = [*(getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", [])), *ctx.args]
            if not left:
                return
            name, cmd, rest = cmd.resolve_command(ctx, left)
            parent = ctx
    except Exception as exc:
        if isinstance(exc, usage_error_types()):
            raise InputError(" ".join(usage_line(exc).removeprefix("error: ").split())) from None
        raise
    model = getattr(cmd.callback, "settings_model", None)
    if model is not None:
        params = dict(ctx.params)
        config = params.pop("config", None)
        sets = list(params.pop("set_", None) or []) + list(params.pop("overrides", None) or [])
        load_settings(model, config, sets, {k: v for k, v in params.items() if k in model.model_fields})


def _print_version(value: bool) -> None:
    if value:
        from followkit import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
    ),
) -> None:
    """followkit: constraints, synthesis, training, selection and evaluation for instruction following."""


def usage_error_types() -> tuple[type[Exception], ...]:
    """click's exception base, and the copy of click that typer 0.29 ships (typer._click)."""
    import click

    types: list[type[Exception]] = [click.ClickException]
    vendored = sys.modules.get("typer._click.exceptions")
    if vendored is not None:
        types.append(vendored.ClickException)
    return tuple(types)


def usage_line(exc: Exception) -> str:
    """One line for a usage error: the message and where to read the usage."""
    msg = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    ctx = getattr(exc, "ctx", None)
    where = getattr(ctx, "command_path", None)
    return f"error: {msg}" + (f" (see `{where} --help`)" if where else "")
