"""`followkit winrate`: pairwise win rate of a model's responses against a baseline's, length-controlled."""

from __future__ import annotations

from typing import Any

import typer

from followkit.core.settings import config_command
from followkit.evaluate.winrate import WinRateConfig


def _pct(x: float | None) -> str:
    return "nan" if x is None or x != x else f"{100 * x:.1f}"


def print_winrate(doc: dict[str, Any], console: Any = None) -> None:
    """The win-rate table (rich): raw, length-controlled and discrete win rates, lengths, counts."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    t = Table(title=f"{doc['model']} vs {doc['baseline']} (judge {doc['judge']['spec']})")
    for col in ("metric", "value", "± s.e."):
        t.add_column(col, justify="left" if col == "metric" else "right")
    t.add_row("win rate %", _pct(doc["win_rate"]), _pct(doc["win_rate_stderr"]))
    t.add_row("length-controlled win rate %", _pct(doc["lc_win_rate"]), _pct(doc["lc_win_rate_stderr"]))
    t.add_row("discrete win rate %", _pct(doc["discrete_win_rate"]), "")
    t.add_row(
        "avg length (chars) model / baseline",
        f"{doc['avg_length']['model']:.0f} / {doc['avg_length']['baseline']:.0f}",
        "",
    )
    t.add_row("pairs scored / excluded", f"{doc['n_scored']} / {doc['n_excluded']}", "")
    t.add_row("unparsable judgments", str(doc["n_unparsable_judgments"]), "")
    console.print(t)


def register(app: typer.Typer) -> None:
    """Add the `winrate` command."""

    @config_command(app, "winrate", WinRateConfig)
    def winrate_cmd(cfg: WinRateConfig) -> None:
        """Judge each pair in both orders; write win rate, discrete and length-controlled win rates."""
        from followkit.evaluate.winrate import run_winrate

        doc = run_winrate(cfg)
        print_winrate(doc)
        typer.echo(f"wrote {cfg.out}/winrate.json and {cfg.out}/judgments.jsonl")
