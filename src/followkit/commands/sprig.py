"""`followkit sprig`: optimize a system prompt from prompt components (SPRIG)."""

from __future__ import annotations

import typer

from followkit.core.settings import config_command
from followkit.optimize.sprig import SprigConfig


def register(app: typer.Typer) -> None:
    """Add the `sprig` command."""

    @config_command(app, "sprig", SprigConfig)
    def sprig(cfg: SprigConfig) -> None:
        """Search for the best system prompt; write best.txt, leaderboard.jsonl/csv, score_by_round.png, sprig.json."""
        from followkit.optimize.sprig import run_sprig

        doc = run_sprig(cfg)
        b, base = doc["best"], doc["baseline_empty_prompt"]
        typer.echo(f"best system prompt ({len(b['components'])} components, {doc['metric']}):")
        typer.echo(f"  {b['prompt'] or '(empty: no system prompt beats the model default)'}")
        typer.echo(
            f"train {b['train']:.3f}  val {b['val']:.3f}  held-out {b['heldout']:.3f}   "
            f"(empty prompt: train {base['train']:.3f}  val {base['val']:.3f}  held-out {base['heldout']:.3f})"
        )
        typer.echo(
            f"{doc['n_candidates']} candidates, {doc['search_calls']} search calls"
            f"{' (budget spent)' if doc['budget_exhausted'] else ''}, {doc['eval_calls']} validation/held-out calls"
        )
        best = doc["outputs"]["best"]
        hint = (
            f"evaluate with: followkit eval -b {cfg.benchmark} -m {cfg.model} --system-prompt @{best}"
            if b["components"]
            else "the empty prompt won: evaluate without --system-prompt"
        )
        typer.echo(f"wrote {best}; {hint}")
