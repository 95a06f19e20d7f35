"""`followkit verify FILE`: verdicts per instruction, strict and loose, as IFEval's reference scores them."""

from __future__ import annotations

from pathlib import Path

import typer

from followkit.core.settings import config_command
from followkit.evaluate.verify import VerifyConfig


def register(app: typer.Typer) -> None:
    """Add the `verify` command."""

    @config_command(app, "verify", VerifyConfig)
    def verify(cfg: VerifyConfig) -> None:
        """Verify responses against their constraints and print prompt/instruction-level accuracy."""
        from followkit.core.reasoning import kept_trace_warning
        from followkit.evaluate.verify import run_verify

        doc = run_verify(cfg)
        warning = kept_trace_warning(doc["reasoning"])
        if warning:
            typer.echo(warning, err=True)
        _print_table(doc["results"], cfg.modes, cfg.out)
        if doc["missing_responses"]:
            typer.echo(
                f"{doc['missing_responses']} prompt(s) in {cfg.prompts} have no response in {cfg.file}: "
                "counted as missing"
            )


def _print_table(summary: dict, modes: tuple[str, ...], out: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="followkit verify")
    table.add_column("level")
    for m in modes:
        table.add_column(m, justify="right")
    table.add_column("n", justify="right")

    def row(label: str, pick) -> None:
        cells = [f"{pick(summary[m])['acc'] * 100:.2f}%" for m in modes]
        table.add_row(label, *cells, str(pick(summary[modes[0]])["n"]))

    row("prompt-level", lambda s: s["prompt_level"])
    row("instruction-level", lambda s: s["instruction_level"])
    table.add_section()
    for group in summary[modes[0]]["groups"]:
        row(group, lambda s, g=group: s["groups"][g])
    console = Console()
    console.print(table)
    if out is not None:
        console.print(f"wrote {', '.join(f'verdicts_{m}.jsonl' for m in modes)} and results.json to {out}")
