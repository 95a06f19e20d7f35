"""`followkit compare BASE OTHER`: a paired comparison of two evaluations of the same prompts."""

from __future__ import annotations

import typer

from followkit.core.settings import config_command
from followkit.evaluate.compare import CompareConfig


def register(app: typer.Typer) -> None:
    """Add the `compare` command."""

    @config_command(app, "compare", CompareConfig)
    def compare(cfg: CompareConfig) -> None:
        """Differences with 95% paired-bootstrap intervals and McNemar's exact test (strict verdicts)."""
        from rich.console import Console
        from rich.table import Table

        from followkit.core.io import write_json
        from followkit.evaluate.compare import compare_outcomes, load_outcomes, verdict_line

        base, other, out = cfg.base, cfg.other, cfg.out
        c = compare_outcomes(load_outcomes(base), load_outcomes(other), n_boot=cfg.n_boot, seed=cfg.seed)
        table = Table(title=f"{other} vs {base} ({c.n_prompts} prompts, {c.n_instructions} constraints)")
        for col in ("level", "base %", "other %", "Δ points", "95% CI"):
            table.add_column(col)
        for level, b, o, d in (
            ("prompt", c.base_prompt, c.other_prompt, c.prompt_diff),
            ("instruction", c.base_inst, c.other_inst, c.inst_diff),
        ):
            table.add_row(
                level,
                f"{100 * b:.1f}",
                f"{100 * o:.1f}",
                f"{100 * d.diff:+.1f}",
                f"{100 * d.lo:+.1f} to {100 * d.hi:+.1f}",
            )
        console = Console()
        console.print(table)
        console.print(
            f"McNemar (prompt level): b={c.mcnemar_b} only base, c={c.mcnemar_c} only other, exact p={c.mcnemar_p:.3g}"
        )
        console.print(verdict_line(other, c))
        if out:
            write_json(out, {"base": base, "other": other, **c.to_dict()})
            console.print(f"wrote {out}")
