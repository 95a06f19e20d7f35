"""`followkit report RUN_DIR`: report.md + a self-contained report.html for a run folder."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `report` command."""

    @app.command("report")
    def report(run_dir: str = typer.Argument(..., help="A run folder written by `followkit run`.")) -> None:
        """Write RUN_DIR/report.md and RUN_DIR/report.html (plots inlined) and print the summary."""
        from pathlib import Path

        from rich.console import Console
        from rich.markdown import Markdown

        from followkit.core.errors import InputError
        from followkit.report.write import REPORT_MARKER, write_report

        rd = Path(run_dir)
        if not rd.is_dir():
            raise InputError("no such run folder" if not rd.exists() else "not a folder", path=run_dir)
        if next(rd.rglob("results.json"), None) is None:
            raise InputError("not a run folder (no results.json anywhere under it)", path=run_dir)
        paths = write_report(run_dir)
        md = paths["markdown"].read_text(encoding="utf-8").removeprefix(REPORT_MARKER + "\n")
        console = Console()
        console.print(Markdown(md.split("## Pass rate per constraint id")[0]))
        console.print(f"wrote {paths['markdown']} and {paths['html']}")
