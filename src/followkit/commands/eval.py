"""`followkit eval`: how well does a model follow complex instructions, on a named benchmark."""

from __future__ import annotations

import typer

from followkit.core.settings import config_command
from followkit.evaluate.runner import EvalConfig


def register(app: typer.Typer) -> None:
    """Add the `eval` command."""

    @config_command(app, "eval", EvalConfig)
    def eval_cmd(cfg: EvalConfig) -> None:
        """Generate, verify (rules) or judge (LLM), and write results.json, samples.jsonl and report.md."""
        from followkit.evaluate.report import print_summary
        from followkit.evaluate.runner import run_eval

        results = run_eval(cfg)
        print_summary(results)
        if results.get("n_failed"):
            raise typer.Exit(1)
